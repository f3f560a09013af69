/**
 * Stack files: find them, load one into a typed, validated config (or every problem at
 * once), and turn it into the string map Pulumi's config runtime takes.
 */
import { existsSync, readdirSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";
import { baseHostsRequired } from "../capacity/capacity";
import { machineType } from "../machines/machine-types";
import { hostFactsProblems } from "../tuning/schema";
import { fleetHardware, hostFacts } from "../tuning/host-facts";
import type { FleetSpec, MetalFleetSpec } from "../config/fleet.schema";
import type { TrafficSpec } from "../config/traffic.schema";
import { cloudRolloutProblems } from "../config/cloud-rollout";
import { NOTIFY_SECRET_KEYS, SEVERITIES, needsSecret } from "../config/notify.schema";
import { steeringProblems, weightProblems } from "../config/traffic";
import { readInventory } from "../inventory/inventory";
import type { Inventory } from "../inventory/inventory.schema";
import { SECRET_KEYS, stackFileSchema, type StackFile } from "./stack.schema";
import {
  assertNoFileProblems,
  checkRunner,
  inFile,
  InputError,
  notRestated,
  refusedBy,
  type FileProblem,
  readYamlFile,
  schemaProblems,
  type KeyPath,
  type Problem,
} from "../inputs/validate";

export const DEFAULT_STACKS_DIR = "stacks";
export const STACK_FILE = /^Pulumi\.([a-z0-9][a-z0-9-]*)\.yaml$/;

/** A stack file that passed every check. */
export interface LoadedStack {
  name: string;
  file: string;
  document: StackFile;
  /** Fleet stacks: the fleet spec. */
  fleet?: FleetSpec;
  /** Traffic stacks: the traffic split. */
  traffic?: TrafficSpec;
  /** Bare-metal stacks: the site's validated host inventory. */
  inventory?: Inventory;
}

export function stackFileName(dir: string, stack: string): string {
  return join(dir, `Pulumi.${stack}.yaml`);
}

/** Stack names in a directory, sorted. */
export function listStacks(dir = DEFAULT_STACKS_DIR): string[] {
  return readdirSync(dir)
    .map((entry) => STACK_FILE.exec(entry)?.[1])
    .filter((name): name is string => name !== undefined)
    .sort();
}

function rangesOverlap(a: { from: number; to: number }, b: { from: number; to: number }): boolean {
  return a.from <= b.to && b.from <= a.to;
}

function zoneProblems(zones: string[], region: string, at: (i: number) => KeyPath): Problem[] {
  const problems: Problem[] = [];
  zones.forEach((zone, i) => {
    // GCP zones are <region>-<letter>, AWS zones <region><letter>.
    if (!new RegExp(`^${region}-?[a-z]$`).test(zone)) {
      problems.push({
        path: at(i),
        message: `is "${zone}", outside region ${region}`,
        expected: `a zone of ${region}`,
      });
    } else if (zones.indexOf(zone) !== i) {
      problems.push({ path: at(i), message: `is "${zone}" again`, expected: "each zone once" });
    }
  });
  return problems;
}

/** A DNS provider needs its own provider's config key. */
function dnsProviderProblems(
  provider: "route53" | "clouddns",
  config: StackFile["config"],
): Problem[] {
  const needs = provider === "route53" ? "aws:region" : "gcp:project";
  return config[needs] === undefined
    ? [
        {
          path: ["config", needs],
          message: "is missing",
          expected: `the ${provider} provider's ${needs}, since dns.provider is ${provider}`,
        },
      ]
    : [];
}

/**
 * Checks a schema cannot express: orderings, overlaps, zones inside the region, the DNS
 * provider's own config being there.
 */
export function fleetProblems(
  fleet: FleetSpec,
  config: StackFile["config"],
  at: KeyPath,
  /** Keys the schema refused: a check that reads one would only restate its problem. */
  refused: (path: KeyPath) => boolean = () => false,
): Problem[] {
  const problems: Problem[] = [];
  const readable = (...keys: KeyPath[]) => !keys.some(refused);
  if (
    fleet.kind !== "metal" &&
    readable([...at, "minHosts"], [...at, "maxHosts"]) &&
    fleet.minHosts > fleet.maxHosts
  ) {
    problems.push({
      path: [...at, "minHosts"],
      message: `is ${fleet.minHosts}, more than maxHosts ${fleet.maxHosts}`,
      expected: "minHosts ≤ maxHosts",
    });
  }
  problems.push(...(readable([...at, "ports"]) ? portProblems(fleet, at) : []));
  if (readable([...at, "ports"], [...at, "workload", "adminPort"])) {
    problems.push(...adminPortProblems(fleet, at));
  }
  if (readable([...at, "alerting"], ["config", "aws:region"])) {
    problems.push(...notifyProblems(fleet, config, at));
  }
  if (fleet.kind === "gcp" && readable([...at, "zones"], ["config", "gcp:region"])) {
    problems.push(...zoneProblems(fleet.zones, config["gcp:region"]!, (i) => [...at, "zones", i]));
  }
  if (fleet.kind === "aws" && readable([...at, "subnets"], ["config", "aws:region"])) {
    problems.push(
      ...zoneProblems(
        fleet.subnets.map((s) => s.zone),
        config["aws:region"]!,
        (i) => [...at, "subnets", i, "zone"],
      ),
    );
  }
  if (fleet.kind === "metal") {
    problems.push(...dnsProviderProblems(fleet.dns.provider, config));
    if (fleet.ssh?.agent && config["avfleet:sshPrivateKey"] !== undefined) {
      problems.push({
        path: ["config", "avfleet:sshPrivateKey"],
        message: `is set, but ${[...at, "ssh", "agent"].slice(1).join(".")} is true: the hosts are reached with the operator's ssh-agent, never with this key`,
        expected:
          "no avfleet:sshPrivateKey (pulumi config rm avfleet:sshPrivateKey), or ssh.agent false",
      });
    }
  }
  return problems;
}

/**
 * A receiver's secret is set exactly when a receiver reads it, and an existing SNS topic is in
 * the alarms' region: CloudWatch alarm actions name a topic of the alarm's own region.
 */
function notifyProblems(fleet: FleetSpec, config: StackFile["config"], at: KeyPath): Problem[] {
  const problems: Problem[] = [];
  for (const severity of SEVERITIES) {
    const key = NOTIFY_SECRET_KEYS[severity];
    const receiver = fleet.alerting?.notify[severity];
    // an Alertmanager receiver reads its keys from files on its own host
    const cloud = fleet.kind === "metal" ? undefined : fleet.alerting?.notify[severity];
    const reads = !!cloud && needsSecret(cloud);
    const where = [...at, "alerting", "notify", severity].slice(1).join(".");
    if (reads && config[key] === undefined) {
      problems.push({
        path: ["config", key],
        message: `is missing, but ${where} reads its key from it`,
        expected: `a Pulumi secret (pulumi config set --secret ${key} < key)`,
      });
    } else if (!reads && config[key] !== undefined) {
      problems.push({
        path: ["config", key],
        message: `is set, but no receiver reads it (${where} ${receiver ? "takes no secret" : "is not declared"})`,
        expected: `no ${key} (pulumi config rm ${key}), or a receiver that reads it`,
      });
    }
    const arn = cloud && "topicArn" in cloud ? cloud.topicArn : undefined;
    const region = arn?.split(":")[3];
    if (fleet.kind === "aws" && region && region !== config["aws:region"]) {
      problems.push({
        path: [...at, "alerting", "notify", severity, "topicArn"],
        message: `is a topic in ${region}, not in aws:region ${config["aws:region"]}`,
        expected:
          "an SNS topic in the stack's region (CloudWatch alarms notify only topics of their region)",
      });
    }
  }
  return problems;
}

/** Every declared port has one purpose, and the media range is not empty. */
function portProblems(fleet: FleetSpec, at: KeyPath): Problem[] {
  const problems: Problem[] = [];
  const { mediaUdp, signalingTcp, health } = fleet.ports;
  if (mediaUdp.from > mediaUdp.to) {
    problems.push({
      path: [...at, "ports", "mediaUdp"],
      message: `is ${mediaUdp.from}–${mediaUdp.to}, an empty range`,
      expected: "from ≤ to",
    });
  }
  // A port that is both a media port and a signaling or health port makes firewall rules and
  // the SFU's own binding ambiguous, so every declared port has one purpose.
  const named: { path: KeyPath; label: string; range: { from: number; to: number } }[] = [
    { path: [...at, "ports", "mediaUdp"], label: "the media UDP range", range: mediaUdp },
    ...signalingTcp.map((p, i) => ({
      path: [...at, "ports", "signalingTcp", i] as KeyPath,
      label: `signaling port ${p}`,
      range: { from: p, to: p },
    })),
    {
      path: [...at, "ports", "health", "port"],
      label: `health port ${health.port}`,
      range: { from: health.port, to: health.port },
    },
  ];
  for (let i = 0; i < named.length; i++) {
    for (let j = 0; j < i; j++) {
      if (rangesOverlap(named[i].range, named[j].range)) {
        problems.push({
          path: named[i].path,
          message: `overlaps ${named[j].label}`,
          expected: "ports that do not overlap",
        });
      }
    }
  }
  return problems;
}

/**
 * The SFU's loopback admin port is a TCP listener on the same host as the agent's health port
 * and the signaling ports, so sharing a number with either fails the second bind at boot
 * (EADDRINUSE: Linux refuses a loopback bind under a wildcard listener of the same port, see
 * docs/real-path.md "Admin port collisions"). The media range is UDP, another port space, so
 * a TCP admin port inside it is no collision.
 */
function adminPortProblems(fleet: FleetSpec, at: KeyPath): Problem[] {
  const adminPort = fleet.workload.adminPort;
  const { signalingTcp, health } = fleet.ports;
  const taken = [
    ...(health.port === adminPort ? [`the health port (ports.health.port ${health.port})`] : []),
    ...signalingTcp.flatMap((p, i) =>
      p === adminPort ? [`signaling TCP port ports.signalingTcp[${i}] ${p}`] : [],
    ),
  ];
  return taken.map((what) => ({
    path: [...at, "workload", "adminPort"],
    message: `is ${adminPort}, the same TCP port as ${what}: the SFU and the agent would collide at boot`,
    expected: "a TCP port no other listener on the host uses (not the health or a signaling port)",
  }));
}

/**
 * A traffic split's pools must be fleet stacks of the same media region that publish an
 * endpoint, and its weights must sum to 100.
 */
export function trafficProblems(
  traffic: TrafficSpec,
  config: StackFile["config"],
  stacksDir: string,
  at: KeyPath,
  /** Keys the schema refused: a check that reads one would only restate its problem. */
  refused: (path: KeyPath) => boolean = () => false,
): Problem[] {
  const problems = [
    ...(refused([...at, "pools"]) ? [] : weightProblems(traffic, at)),
    ...(refused([...at, "pools"]) || refused([...at, "dns"]) ? [] : steeringProblems(traffic, at)),
    ...dnsProviderProblems(traffic.dns.provider, config),
  ];
  // Cloud DNS: each pool's first signaling port, where the one health check probes it.
  const ports = new Map<string, number>();
  traffic.pools.forEach((pool, i) => {
    const path = [...at, "pools", i, "stack"];
    const file = stackFileName(stacksDir, pool.stack);
    if (!existsSync(file)) {
      problems.push({
        path,
        message: `is "${pool.stack}", which has no stack file`,
        expected: `a fleet stack in ${stacksDir}: ${listStacks(stacksDir).join(", ")}`,
      });
      return;
    }
    let fleet: FleetSpec | undefined;
    try {
      fleet = loadStackFile(file).fleet;
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      problems.push({
        path,
        message: `is "${pool.stack}", whose stack file has problems`,
        expected: "a valid fleet stack",
      });
      return;
    }
    if (!fleet) {
      problems.push({
        path,
        message: `is "${pool.stack}", not a fleet stack`,
        expected: "a fleet stack",
      });
    } else if (fleet.mediaRegion !== traffic.mediaRegion) {
      problems.push({
        path,
        message: `is "${pool.stack}", which serves media region ${fleet.mediaRegion}`,
        expected: `a pool of ${traffic.mediaRegion}`,
      });
    } else if (!fleet.endpoint) {
      problems.push({
        path,
        message: `is "${pool.stack}", which declares no endpoint`,
        expected: "a fleet with avfleet:fleet.endpoint",
      });
    } else if (traffic.dns.provider === "clouddns") {
      problems.push(...cloudDnsPoolProblems(fleet, pool.stack, path));
      ports.set(pool.stack, fleet.ports.signalingTcp[0]);
    }
  });
  if (new Set(ports.values()).size > 1) {
    problems.push({
      path: [...at, "pools"],
      message: `serve joins on different first signaling ports (${[...ports].map(([stack, port]) => `${port} on ${stack}`).join(", ")})`,
      expected:
        "one port: a Cloud DNS record has one health check, probing every pool on the same port",
    });
  }
  if (traffic.dns.provider === "clouddns" && !traffic.dns.healthCheckRegions) {
    problems.push({
      path: [...at, "dns", "healthCheckRegions"],
      message: "is missing",
      expected:
        "three Google Cloud regions Cloud DNS probes the pools' endpoints from: a record without a health check keeps sending joins to a dead pool",
    });
  }
  return problems;
}

/**
 * A health-checked Cloud DNS record answers with A records of IPs its health check probes: a
 * pool must publish the addresses its endpoint answers on — a GCP pool its load balancer's, a
 * bare-metal site the ones it declares; an AWS network load balancer has no fixed ones.
 */
function cloudDnsPoolProblems(fleet: FleetSpec, stack: string, path: KeyPath): Problem[] {
  if (fleet.kind === "aws") {
    return [
      {
        path,
        message: `is "${stack}", an AWS pool: its network load balancer has no fixed IP addresses for a health-checked Cloud DNS record`,
        expected: "a GCP or bare-metal pool, or dns.provider route53",
      },
    ];
  }
  if (fleet.kind === "metal" && !fleet.endpointAddresses) {
    return [
      {
        path,
        message: `is "${stack}", whose fleet declares no endpointAddresses`,
        expected: `avfleet:fleet.endpointAddresses in ${stack}: the IPv4 addresses ${fleet.endpoint} answers on, which the Cloud DNS health check probes`,
      },
    ];
  }
  return [];
}

/** The host counts of a metal fleet come from its inventory; a number here would be ignored. */
function metalHostCountProblems(fleet: FleetSpec, at: KeyPath): Problem[] {
  if (fleet.kind !== "metal") return [];
  return (["minHosts", "maxHosts"] as const)
    .filter((key) => (fleet as Record<string, unknown>)[key] !== undefined)
    .map((key) => ({
      path: [...at, key],
      message: `is set on a metal fleet, whose hosts are its inventory's active hosts`,
      expected: `no ${key} (add, retire or drain hosts in ${fleet.inventory} instead)`,
    }));
}

/** Which input key a derived host fact comes from, for a bare-metal host class or a cloud fleet. */
function derivedFrom(fact: string, kind: FleetSpec["kind"]): "hardware" | string {
  switch (fact) {
    case "cores":
    case "mediaWorkerCpus":
      return kind === "metal" ? "cores" : "hardware";
    case "rxQueues":
    case "txQueues":
      return kind === "metal" ? "nicQueues" : "hardware";
    case "nicDriver":
    case "interfaces":
      return kind === "metal" ? fact : "hardware";
    case "packetsPerSecond":
      return kind === "metal" ? "streamsPerHost" : "demand";
    default:
      return fact;
  }
}

/**
 * A `secure:` value that is text in base64, not ciphertext: it evaluates offline (there is no
 * key to decrypt it with) and fails only at the first real `pulumi up`. Every secrets provider
 * stores encrypted bytes — the passphrase and service providers `v1:<nonce>:<AES-256-GCM
 * ciphertext>`, both base64 (pulumi/pulumi sdk/go/common/resource/config/crypt.go,
 * symmetricCrypter.EncryptValue) — and 16 random bytes all fall in printable ASCII about once in
 * ten million, so a value whose every part decodes to printable text was written by hand. The
 * example stacks carry one on purpose (avfleet:example: true), as they carry other placeholders.
 */
function fakeSecretProblems(config: StackFile["config"]): Problem[] {
  // An example (a string once the Pulumi CLI rewrote the file: docs/real-path.md, issue #30),
  // or a flag the schema refused: that problem is reported there, and whether this stack is
  // an example is not known.
  const example = config["avfleet:example"];
  if (example !== undefined && String(example) !== "false") return [];
  return Object.entries(config).flatMap(([key, value]) => {
    const secure = (value as { secure?: unknown } | null)?.secure;
    const text = typeof secure === "string" ? decodedText(secure) : undefined;
    if (text === undefined) return [];
    return [
      {
        path: ["config", key, "secure"],
        message: `decodes to the text ${JSON.stringify(text.length > 40 ? `${text.slice(0, 37)}...` : text)}, not ciphertext: a placeholder`,
        expected: `a value written by pulumi config set --secret ${key} (or avfleet:example: true on a stack that is never applied)`,
      },
    ];
  });
}

/** The text a hand-made "ciphertext" holds, or undefined when it may be real. */
export function decodedText(secure: string): string | undefined {
  const parts = secure.replace(/^v1:/, "").split(":");
  const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
  if (!parts.every((part) => BASE64.test(part))) return undefined;
  const decoded = parts.map((part) => Buffer.from(part, "base64"));
  const bytes = Buffer.concat(decoded);
  const printable = bytes.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a);
  return bytes.length >= 8 && printable ? decoded.map(String).join(":") : undefined;
}

/** The fleet keys derivedProblems reads (through fleetHardware and hostFacts). */
const DERIVED_FROM = [
  "kind",
  "demand",
  "tuning",
  "ports",
  "workload",
  "machineType",
  "instanceType",
];

/** Most hosts any demand may need: beyond it the capacity plan would count for minutes. */
export const MAX_HOSTS_REQUIRED = 1_000_000;

/**
 * What tuning and capacity derive from the fleet spec and each host class (or machine type),
 * checked with the same rules they use, and reported at the input key the value comes from.
 */
export function derivedProblems(
  file: string,
  fleet: FleetSpec,
  at: KeyPath,
  inventory?: { file: string; document: Inventory },
): FileProblem[] {
  const problems: FileProblem[] = [];
  const hardware = fleetHardware(fleet, inventory?.document.hostClasses);
  for (const [name, host] of hardware) {
    const facts = hostFacts(fleet, host);
    const inClass = fleet.kind === "metal" && inventory !== undefined;
    for (const p of hostFactsProblems(facts)) {
      const fact = String(p.path[0]);
      const source = derivedFrom(fact, fleet.kind);
      const expected =
        fact === "mediaWorkerCpus"
          ? `a core count that leaves media workers beside the CPUs kept for interrupts (max(2, cores/8)): at least 3`
          : p.expected;
      const derived = `the tuning derives ${fact} ${JSON.stringify((facts as Record<string, unknown>)[fact])}, which ${p.message}`;
      if (source === "stallMs" || source === "mediaUdpPorts") {
        const key = source === "stallMs" ? ["tuning", "stallMs"] : ["ports", "mediaUdp"];
        problems.push({
          file,
          path: [...at, ...key],
          message: `with ${name}: ${derived}`,
          expected,
        });
      } else if (inClass) {
        const value = (inventory.document.hostClasses[name] as Record<string, unknown>)[source];
        problems.push({
          file: inventory.file,
          path: ["hostClasses", name, source],
          message: `is ${JSON.stringify(value)}: ${derived}${source === "streamsPerHost" ? ` (with demand ${JSON.stringify(fleet.demand)} of ${file})` : ""}`,
          expected,
        });
      } else {
        const key =
          source === "hardware" ? (fleet.kind === "gcp" ? "machineType" : "instanceType") : source;
        problems.push({
          file,
          path: [...at, key],
          message: `with ${name}: ${derived}`,
          expected,
        });
      }
    }
    const egressGbps = inClass
      ? inventory.document.hostClasses[name].egressGbps
      : machineType(name).egressGbps;
    const needed = baseHostsRequired(fleet.demand, {
      streamsPerHost: host.streamsPerHost,
      egressGbps,
    });
    if (!(needed <= MAX_HOSTS_REQUIRED)) {
      problems.push({
        file,
        path: [...at, "demand"],
        message: `needs ${needed} hosts of ${name} at the peak`,
        expected: `a demand that at most ${MAX_HOSTS_REQUIRED} hosts carry (check peakParticipants, streamsPerParticipant and avgStreamKbps)`,
      });
    }
  }
  return problems;
}

/** The stack file's inventory, resolved against the project root (where Pulumi runs). */
export function inventoryFile(fleet: MetalFleetSpec, stacksDir: string): string {
  return join(dirname(stacksDir), fleet.inventory);
}

/**
 * Where the inventory really is, symbolic links followed, or why it may not be read: the
 * schema keeps the path itself inside the project, but a link inside it may point anywhere.
 */
function confinedInventory(
  fleet: MetalFleetSpec,
  stacksDir: string,
): { file: string } | { problem: string } {
  const path = inventoryFile(fleet, stacksDir);
  if (!existsSync(path)) return { problem: `which does not exist (looked for ${path})` };
  const root = realpathSync(dirname(stacksDir));
  const real = realpathSync(path);
  const inside = relative(root, real);
  return inside === ".." || inside.startsWith(`..${sep}`) || isAbsolute(inside)
    ? { problem: `which resolves to ${real}, outside the project ${root}` }
    : { file: path };
}

function metalProblems(
  file: string,
  fleet: MetalFleetSpec,
  at: KeyPath,
  stacksDir: string,
  /** False when the schema refused a key derived values read: they would be built on it. */
  derive: boolean,
): { problems: FileProblem[]; inventory?: Inventory } {
  const found = confinedInventory(fleet, stacksDir);
  if ("problem" in found) {
    return {
      problems: inFile(file, [
        {
          path: [...at, "inventory"],
          message: `is "${fleet.inventory}", ${found.problem}`,
          expected: "the path of this site's host inventory, a file inside the project",
        },
      ]),
    };
  }
  const path = found.file;
  const { value, problems } = readInventory(path);
  if (!value) return { problems };
  if (typeof value.site === "string" && value.site !== fleet.site) {
    problems.push({
      file,
      path: [...at, "site"],
      message: `is "${fleet.site}", but ${fleet.inventory} is the inventory of site "${value.site}"`,
      expected: "the site of the inventory it names",
    });
  }
  if (!derive) return { problems };
  // Only host classes the inventory's own checks accepted: a derived value of a refused one
  // would restate its problem.
  const refused = new Set(
    problems.filter((p) => p.path[0] === "hostClasses").map((p) => String(p.path[1])),
  );
  const hostClasses = Object.fromEntries(
    Object.entries(value.hostClasses ?? {}).filter(([name]) => !refused.has(name)),
  );
  problems.push(
    ...derivedProblems(file, fleet, at, {
      file: path,
      document: { ...value, hostClasses },
    }),
  );
  return { problems, inventory: problems.length === 0 ? value : undefined };
}

/**
 * Validates a parsed stack document and, for a metal stack, its inventory: the schema, the
 * semantic checks, and what tuning and capacity derive, all in one pass. Throws InputError
 * with every problem of every file, sorted. `stacksDir` is where the stacks a traffic split
 * names are.
 */
export function validateStackDocument(
  file: string,
  document: unknown,
  stacksDir = dirname(file),
): { document: StackFile; inventory?: Inventory } {
  const schema = schemaProblems(stackFileSchema, document);
  const semantic: Problem[] = [];
  const other: FileProblem[] = [];
  let inventory: Inventory | undefined;
  const check = checkRunner(schema);
  const stack = document as StackFile;
  const fleet = stack?.config?.["avfleet:fleet"];
  const traffic = stack?.config?.["avfleet:traffic"];
  const fleetAt = ["config", "avfleet:fleet"];
  if (stack?.config && typeof stack.config === "object") {
    check(() => semantic.push(...fakeSecretProblems(stack.config)));
  }
  if (stack?.config && typeof stack.config === "object" && !fleet === !traffic) {
    semantic.push({
      path: ["config"],
      message: fleet
        ? "has both avfleet:fleet and avfleet:traffic"
        : "has neither avfleet:fleet nor avfleet:traffic",
      expected: "exactly one of them",
    });
  } else if (traffic) {
    check(() =>
      semantic.push(
        ...trafficProblems(
          traffic,
          stack.config,
          stacksDir,
          ["config", "avfleet:traffic"],
          refusedBy(schema),
        ),
      ),
    );
  } else if (fleet) {
    check(() => semantic.push(...fleetProblems(fleet, stack.config, fleetAt, refusedBy(schema))));
    check(() => semantic.push(...metalHostCountProblems(fleet, fleetAt)));
    check(() =>
      semantic.push(
        ...cloudRolloutProblems(fleet.kind, stack.config["avfleet:rollout"], [
          "config",
          "avfleet:rollout",
        ]),
      ),
    );
    // What tuning and capacity derive is checked whenever the keys they read were accepted, so
    // that a mistake elsewhere in the file does not hide one here until the next run.
    const derive = !DERIVED_FROM.some((key) => refusedBy(schema)([...fleetAt, key]));
    if (fleet.kind === "metal") {
      // A path the schema refused is not read at all: it may name a file outside the project.
      if (!refusedBy(schema)([...fleetAt, "inventory"])) {
        check(() => {
          const metal = metalProblems(file, fleet, fleetAt, stacksDir, derive);
          other.push(...metal.problems);
          inventory = metal.inventory;
        });
      }
    } else if (derive) {
      check(() => other.push(...derivedProblems(file, fleet, fleetAt)));
    }
  }
  assertNoFileProblems([
    ...inFile(file, [...schema, ...notRestated(schema, semantic)]),
    // One problem per key: a derived value at a key a check already refused says it again.
    ...other.filter(
      (p) => p.file !== file || notRestated([...schema, ...semantic], [p]).length > 0,
    ),
  ]);
  return { document: stack, inventory };
}

export function loadStackFile(file: string): LoadedStack {
  const name = STACK_FILE.exec(basename(file))?.[1];
  if (!name) {
    throw new Error(`${file} is not named Pulumi.<stack>.yaml`);
  }
  const { document, inventory } = validateStackDocument(
    file,
    readYamlFile(file, "a Pulumi stack file with a config: mapping"),
  );
  return {
    name,
    file,
    document,
    fleet: document.config["avfleet:fleet"],
    traffic: document.config["avfleet:traffic"],
    inventory,
  };
}

/** Loads several stacks, collecting every file's problems before failing, sorted by file. */
export function loadStacks(dir: string, names: string[]): LoadedStack[] {
  const loaded: LoadedStack[] = [];
  const problems: FileProblem[] = [];
  for (const name of names) {
    try {
      loaded.push(loadStackFile(stackFileName(dir, name)));
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      problems.push(...err.problems);
    }
  }
  assertNoFileProblems(problems);
  return loaded;
}

/** Offline there is no key to decrypt secrets with: they evaluate to this, marked secret. */
export const OFFLINE_SECRET = "offline-placeholder-secret";

/** `key: {secure: …}` in a stack file: a Pulumi secret, whatever its namespace. */
const isSecretValue = (value: unknown): boolean =>
  typeof value === "object" && value !== null && "secure" in value;

const isAvfleetSecretKey = (key: string) => (SECRET_KEYS as readonly string[]).includes(key);

/**
 * The string map Pulumi's config runtime holds for a stack (structured values JSON-encoded,
 * as `pulumi config` stores them) and which keys are secrets.
 */
export function pulumiConfigMap(stack: StackFile): {
  config: Record<string, string>;
  secretKeys: string[];
} {
  const entries = Object.entries(stack.config);
  return {
    config: Object.fromEntries(
      entries.map(([key, value]) => [
        key,
        isSecretValue(value)
          ? OFFLINE_SECRET
          : typeof value === "string"
            ? value
            : JSON.stringify(value),
      ]),
    ),
    secretKeys: entries.filter(([, value]) => isSecretValue(value)).map(([key]) => key),
  };
}

/** Keys whose value Pulumi hands the program as the string "true" or "false". */
const BOOLEAN_KEYS = ["avfleet:example"];

/** Our structured values arrive JSON-encoded; a value that is not JSON stays a string. */
function decodeAvfleetValue(key: string, value: string): unknown {
  if (BOOLEAN_KEYS.includes(key) && /^(true|false)$/.test(value)) return value === "true";
  if (!/^[[{]/.test(value)) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * The stack document for the program under `pulumi up`, from Pulumi's decrypted config map.
 * Our secret keys become `{secure}` again so that the stack-file schema applies unchanged;
 * the program reads their values as secret Outputs. Keys of other namespaces (providers, ESC
 * environments) pass through as the strings Pulumi holds: we validate only what we read.
 */
export function stackDocumentFromConfigMap(config: Record<string, string>): unknown {
  return {
    config: Object.fromEntries(
      Object.entries(config).map(([key, value]) => [
        key,
        isAvfleetSecretKey(key)
          ? { secure: "(decrypted by pulumi)" }
          : key.startsWith("avfleet:")
            ? decodeAvfleetValue(key, value)
            : value,
      ]),
    ),
  };
}
