/**
 * MetalFleet: one bare-metal site's media hosts. Each payload the site hands out (a host
 * class's, the drain request) is declared once, as a MetalPayload; each host carries only what
 * is its own: the small command (local.Command) that pipes the payload it is to run, by sha256,
 * through the operator's ssh to the host, where it is checked and run as root (metal-payload.ts;
 * the ssh_config that pins each host key and goes through the site's bastion is metal-ssh.ts's);
 * a draining host only the command that hands its agent a drain request; each serving host its
 * DNS record. What a host runs is decided in modules/release/intent.ts: a host that keeps what it
 * runs ignores its command's changes, so Pulumi keeps what its state holds. It only declares;
 * metal-args.ts, metal-ssh.ts and metal-payload.ts compute.
 */
import * as pulumi from "@pulumi/pulumi";
import * as route53 from "@pulumi/aws/route53";
import * as clouddns from "@pulumi/gcp/dns";
import * as command from "@pulumi/command";
import type { MetalFleetSpec } from "../config/fleet.schema";
import type { Inventory, InventoryHost } from "../inventory/inventory";
import type { HostIntent } from "../release/intent";
import { METAL_PAYLOAD_TYPE } from "../../policy/contract/rules";
import * as args from "./metal-args";
import { applyCommand, type Payload } from "../host-payloads/metal-payload";
import { pinnedHostKey } from "../host-payloads/metal-ssh";

export interface MetalFleetArgs {
  /** The validated fleet spec from the stack file. */
  spec: MetalFleetSpec;
  /** The site's validated host inventory. */
  inventory: Inventory;
  /** The site's rendered ssh_config and bastion master script, relative to the project root (metal-ssh.ts). */
  ssh: { config: string; master?: string };
  /**
   * Resolves when the files the commands read are written: the payloads, the ssh_config, and the
   * SSH private key when the stack holds it (a secret written only where pulumi runs).
   */
  ready: pulumi.Output<string>;
  /** Each class with an active host: its payload. */
  classes: Record<string, { payload: Payload }>;
  /** The drain request a draining host runs. */
  drain: Payload;
  /** What each provisioned host runs after this up. */
  intents: Map<string, HostIntent>;
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

export interface MetalPayloadArgs {
  /** The host class it is the payload of, or `drain`. */
  of: string;
  sha: string;
  /** The script itself: in the state once per site, not once per host. */
  payload: string;
}

/** One payload of the site, declared once: what the policy pack and reviewers read. */
export class MetalPayload extends pulumi.ComponentResource {
  constructor(name: string, payloadArgs: MetalPayloadArgs, opts?: pulumi.ComponentResourceOptions) {
    super(METAL_PAYLOAD_TYPE, name, payloadArgs, opts);
    this.registerOutputs({});
  }
}

/**
 * Resources (a host's copy, command or DNS record) declared between two turns of the event
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
  const { spec, inventory, ssh, ready, classes, drain, intents, gcpProject } = fleetArgs;
  const opts = { parent };

  for (const [of, { payload }] of [
    ...Object.entries(classes),
    ["drain", { payload: drain }],
  ] as const) {
    new MetalPayload(
      `${name}-payload-${of}`,
      { of, sha: payload.sha, payload: payload.text },
      opts,
    );
  }

  const user = spec.ssh.user;
  const target = (host: InventoryHost) => ({ ...ssh, host: host.name });
  // The command waits for the files it reads; `ready` is unsecret, so the command is no secret.
  const when = (cmd: string) => ready.apply(() => cmd);
  const commands = new Map<string, command.local.Command>();
  const run = (host: InventoryHost) => () => {
    const intent = intents.get(host.name)!;
    if (intent.run === "drain") {
      new command.local.Command(
        `${name}-${host.name}-drain`,
        { create: when(applyCommand(target(host), user, drain.sha, drain.text)) },
        opts,
      );
      return;
    }
    const tune = new command.local.Command(
      `${name}-${host.name}-tune`,
      {
        create: when(applyCommand(target(host), user, intent.sha)),
        // A reinstalled host (a new host key) has lost what it ran: run it again.
        triggers: [pinnedHostKey(host)],
      },
      intent.keep ? { ...opts, ignoreChanges: ["create", "triggers"] } : opts,
    );
    commands.set(host.name, tune);
  };

  const { dns } = spec;
  const record = (host: InventoryHost) => () => {
    const fqdn = args.hostFqdn(host, dns.domain);
    // Joins reach a host once its command has run: a host the up creates (new, or back from a
    // drain) gets its record after it is tuned and serving, or none while its command fails.
    const dnsOpts = { ...opts, dependsOn: [commands.get(host.name)!] };
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
        dnsOpts,
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
          ? { ...dnsOpts, import: args.cloudDnsImportId(gcpProject!, dns.zone, `${fqdn}.`, "A") }
          : dnsOpts,
      );
    }
  };
  return inChunks([
    ...args.provisionedHosts(inventory).map(run),
    ...args.dnsHosts(inventory, intents).map(record),
  ]);
}
