/**
 * MetalFleet: one bare-metal site's media hosts — each non-retired host tuned over SSH (re-run
 * exactly when its rendered payload changes), each active host in DNS. It only declares;
 * metal-args.ts computes.
 */
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as gcp from "@pulumi/gcp";
import * as command from "@pulumi/command";
import type { MetalFleetSpec } from "../config/fleet.schema";
import type { Inventory, InventoryHost } from "../config/inventory.schema";
import * as args from "./metal-args";

/** A host's provisioning payload: the command to run and the hash that triggers a re-run. */
export interface HostPayload {
  create: string;
  hash: string;
}

export interface MetalFleetArgs {
  /** The validated fleet spec from the stack file. */
  spec: MetalFleetSpec;
  /** The site's validated host inventory. */
  inventory: Inventory;
  /** SSH private key for provisioning; a Pulumi secret (avfleet:sshPrivateKey). */
  sshPrivateKey: pulumi.Output<string>;
  /** The tuning payload of a host (same for every host of a class and profile). */
  payloadFor: (host: InventoryHost) => HostPayload;
  /** Google project for Cloud DNS records (`gcp:project`), when dns.provider is clouddns. */
  gcpProject?: string;
}

export class MetalFleet extends pulumi.ComponentResource {
  constructor(name: string, fleetArgs: MetalFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("avfleet:fleets:MetalFleet", name, {}, opts);
    createMetalFleet(name, fleetArgs, this);
    this.registerOutputs({});
  }
}

export function createMetalFleet(name: string, fleetArgs: MetalFleetArgs, parent: pulumi.Resource) {
  const { spec, inventory, sshPrivateKey, payloadFor, gcpProject } = fleetArgs;
  const opts = { parent };

  for (const host of args.provisionedHosts(inventory)) {
    const payload = payloadFor(host);
    new command.remote.Command(
      `${name}-${host.name}-tune`,
      {
        connection: {
          host: host.privateIp,
          port: spec.ssh.port,
          user: spec.ssh.user,
          privateKey: sshPrivateKey,
        },
        create: payload.create,
        // A changed payload replaces the command, which runs it again on the host.
        triggers: [payload.hash],
      },
      opts,
    );
  }

  const { dns } = spec;
  for (const host of args.dnsHosts(inventory)) {
    const fqdn = args.hostFqdn(host, dns.domain);
    if (dns.provider === "route53") {
      new aws.route53.Record(
        `${name}-${host.name}-dns`,
        { zoneId: dns.zone, name: fqdn, type: "A", ttl: dns.ttl, records: [host.publicIp] },
        opts,
      );
    } else {
      new gcp.dns.RecordSet(
        `${name}-${host.name}-dns`,
        {
          project: gcpProject,
          managedZone: dns.zone,
          name: `${fqdn}.`,
          type: "A",
          ttl: dns.ttl,
          rrdatas: [host.publicIp],
        },
        opts,
      );
    }
  }
}
