/**
 * MetalFleet: one bare-metal site's media hosts — each non-retired host provisioned over SSH
 * with its host key pinned, through the site's bastion when it has one (re-run exactly when
 * its rendered payload changes), each active host in DNS. It only declares; metal-args.ts and
 * metal-payload.ts compute.
 */
import * as pulumi from "@pulumi/pulumi";
import * as route53 from "@pulumi/aws/route53";
import * as clouddns from "@pulumi/gcp/dns";
import * as command from "@pulumi/command";
import type { MetalFleetSpec } from "../config/fleet.schema";
import type { Inventory, InventoryHost } from "../config/inventory.schema";
import * as args from "./metal-args";
import type { HostPayload } from "./metal-payload";

export interface MetalFleetArgs {
  /** The validated fleet spec from the stack file. */
  spec: MetalFleetSpec;
  /** The site's validated host inventory. */
  inventory: Inventory;
  /** SSH private key for the hosts and the bastion; a Pulumi secret (avfleet:sshPrivateKey). */
  sshPrivateKey: pulumi.Output<string>;
  /** The payload of a host (same for every host of a class). */
  payloadFor: (host: InventoryHost) => HostPayload;
  /** Google project for Cloud DNS records (`gcp:project`), when dns.provider is clouddns. */
  gcpProject?: string;
}

export class MetalFleet extends pulumi.ComponentResource {
  constructor(name: string, fleetArgs: MetalFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("avfleet:fleets:MetalFleet", name, {}, opts);
    // The stack waits for the component's outputs, so for its last host to be declared.
    this.registerOutputs(createMetalFleet(name, fleetArgs, this).then(() => ({})));
  }
}

/**
 * Resources (a host's command, a host's DNS record) declared between two turns of the event
 * loop. The SDK holds about 130 KB of promises and closures per resource until its
 * registration completes, and a loop that declares every host at once keeps them all alive
 * together: 5 GB for a 20,000-host site. Between chunks the registrations already sent
 * proceed (under mocks they complete), so at most a chunk is in flight offline; under
 * `pulumi up` every host is still registered without waiting for any to be created. Fewer in
 * flight also means less for the garbage collector to copy out of the young generation:
 * 5,000 hosts evaluate in 8.0 s with chunks of 1,000, 7.0 s with 250, 6.0 s with 100 (and
 * 50), on 2 cores.
 */
const RESOURCES_PER_CHUNK = 100;

async function inChunks(declarations: (() => void)[]): Promise<void> {
  for (let i = 0; i < declarations.length; i += RESOURCES_PER_CHUNK) {
    if (i > 0) await new Promise((next) => setImmediate(next));
    for (const declare of declarations.slice(i, i + RESOURCES_PER_CHUNK)) declare();
  }
}

/** Declares the site's resources under `parent`; resolves when the last one is declared. */
export function createMetalFleet(
  name: string,
  fleetArgs: MetalFleetArgs,
  parent: pulumi.Resource,
): Promise<void> {
  const { spec, inventory, sshPrivateKey, payloadFor, gcpProject } = fleetArgs;
  const opts = { parent };

  const { bastion } = spec.ssh;
  const proxy = bastion && { ...args.bastionConnection(bastion), privateKey: sshPrivateKey };
  const provision = (host: InventoryHost) => () => {
    const payload = payloadFor(host);
    new command.remote.Command(
      `${name}-${host.name}-tune`,
      {
        connection: {
          host: host.privateIp,
          port: spec.ssh.port,
          user: spec.ssh.user,
          privateKey: sshPrivateKey,
          hostKey: args.pinnedHostKey(host),
          ...(proxy ? { proxy } : {}),
        },
        create: payload.create,
        // A changed payload, or a reinstalled host (a new host key), replaces the command,
        // which runs it again on the host. The connection itself is secret as a whole.
        triggers: [payload.hash, args.pinnedHostKey(host)],
      },
      opts,
    );
  };

  const { dns } = spec;
  const record = (host: InventoryHost) => () => {
    const fqdn = args.hostFqdn(host, dns.domain);
    if (dns.provider === "route53") {
      new route53.Record(
        `${name}-${host.name}-dns`,
        {
          zoneId: dns.zone,
          name: fqdn,
          type: "A",
          ttl: dns.ttl,
          records: [host.publicIp],
          ...(dns.adopt ? { allowOverwrite: true } : {}),
        },
        opts,
      );
    } else {
      new clouddns.RecordSet(
        `${name}-${host.name}-dns`,
        {
          project: gcpProject,
          managedZone: dns.zone,
          name: `${fqdn}.`,
          type: "A",
          ttl: dns.ttl,
          rrdatas: [host.publicIp],
        },
        dns.adopt
          ? { ...opts, import: args.cloudDnsImportId(gcpProject!, dns.zone, `${fqdn}.`, "A") }
          : opts,
      );
    }
  };
  return inChunks([
    ...args.provisionedHosts(inventory).map(provision),
    ...args.dnsHosts(inventory).map(record),
  ]);
}
