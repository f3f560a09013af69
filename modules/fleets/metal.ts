/**
 * MetalFleet: one bare-metal site's media hosts. Each payload the site hands out (a host
 * class's, the drain request) is declared once, as a MetalPayload; each host carries only what
 * is its own: a copy of its class's payload by sha256 (remote.CopyToRemote) and the small
 * command that checks and runs the payload it is to run (remote.Command), over SSH with its host
 * key pinned, through the site's bastion when it has one; a draining host only the command that
 * hands its agent a drain request; each serving host its DNS record. What a host runs is decided
 * in modules/release/intent.ts: a host that keeps what it runs ignores the payload-carrying
 * inputs, so Pulumi keeps what its state holds. It only declares; metal-args.ts and
 * metal-payload.ts compute.
 */
import * as pulumi from "@pulumi/pulumi";
import * as route53 from "@pulumi/aws/route53";
import * as clouddns from "@pulumi/gcp/dns";
import * as command from "@pulumi/command";
import type { MetalFleetSpec } from "../config/fleet.schema";
import type { Inventory, InventoryHost } from "../config/inventory.schema";
import type { HostIntent } from "../release/intent";
import { METAL_PAYLOAD_TYPE } from "../../policy/rules";
import * as args from "./metal-args";
import { applyCommand, payloadFile, type Payload } from "./metal-payload";

export interface MetalFleetArgs {
  /** The validated fleet spec from the stack file. */
  spec: MetalFleetSpec;
  /** The site's validated host inventory. */
  inventory: Inventory;
  /**
   * The SSH private key for the hosts and the bastion, a Pulumi secret (avfleet:sshPrivateKey);
   * none when the operator's ssh-agent holds it (ssh.agent).
   */
  sshPrivateKey?: pulumi.Output<string>;
  /** Each class with an active host: its payload and the project file its hosts' copies read. */
  classes: Record<string, { payload: Payload; file: string }>;
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
  const { spec, inventory, sshPrivateKey, classes, drain, intents, gcpProject } = fleetArgs;
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

  const key = sshPrivateKey ? { privateKey: sshPrivateKey } : {};
  const connection = (host: InventoryHost) => {
    const { proxy, ...direct } = args.hostConnection(spec.ssh, host);
    return { ...direct, ...key, ...(proxy ? { proxy: { ...proxy, ...key } } : {}) };
  };
  const user = spec.ssh.user;
  const copies = new Map<string, command.remote.CopyToRemote>();
  const copy = (host: InventoryHost) => () => {
    const intent = intents.get(host.name)!;
    if (intent.run === "drain") return;
    const rendered = classes[host.class];
    const ignored = args.ignoredInputs(intent, rendered.payload.sha).copy;
    copies.set(
      host.name,
      new command.remote.CopyToRemote(
        `${name}-${host.name}-payload`,
        {
          connection: connection(host),
          source: new pulumi.asset.FileAsset(rendered.file),
          remotePath: payloadFile(rendered.payload.sha),
          // A reinstalled host (a new host key) has lost its copies: copy again.
          triggers: [args.pinnedHostKey(host)],
        },
        ignored.length ? { ...opts, ignoreChanges: ignored } : opts,
      ),
    );
  };
  const run = (host: InventoryHost) => () => {
    const intent = intents.get(host.name)!;
    if (intent.run === "drain") {
      new command.remote.Command(
        `${name}-${host.name}-drain`,
        { connection: connection(host), create: applyCommand(user, drain.sha, drain.text) },
        opts,
      );
      return;
    }
    const ignored = args.ignoredInputs(intent, classes[host.class].payload.sha).command;
    new command.remote.Command(
      `${name}-${host.name}-tune`,
      { connection: connection(host), create: applyCommand(user, intent.sha) },
      {
        ...opts,
        dependsOn: [copies.get(host.name)!],
        ...(ignored.length ? { ignoreChanges: ignored } : {}),
      },
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
  const provisioned = args.provisionedHosts(inventory);
  // Every copy before the commands that depend on them: a command waits for its copy's
  // registration before its own and holds its promises meanwhile. 5,000 hosts on 2 cores: 18.4 s
  // with each command right after its copy, 12.9 s so (12.7 s with no dependency at all).
  return inChunks([
    ...provisioned.map(copy),
    ...provisioned.map(run),
    ...args.dnsHosts(inventory, intents).map(record),
  ]);
}
