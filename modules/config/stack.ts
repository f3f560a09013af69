/**
 * Stack files: find them, load one into a typed, validated config (or every problem at
 * once), and turn it into the string map Pulumi's config runtime takes.
 */
import { existsSync, readdirSync } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";
import type { FleetSpec } from "./fleet.schema";
import type { TrafficSpec } from "./traffic.schema";
import { weightProblems } from "../traffic/weights";
import { steeringProblems } from "../traffic/steering";
import { loadInventory } from "./inventory";
import type { Inventory } from "./inventory.schema";
import { SECRET_KEYS, stackFileSchema, type StackFile } from "./stack.schema";
import {
  assertNoProblems,
  InputError,
  readYamlFile,
  schemaProblems,
  type KeyPath,
  type Problem,
} from "./validate";

export const DEFAULT_STACKS_DIR = "stacks";
const STACK_FILE = /^Pulumi\.([a-z0-9][a-z0-9-]*)\.yaml$/;

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
): Problem[] {
  const problems: Problem[] = [];
  if (fleet.kind !== "metal" && fleet.minHosts > fleet.maxHosts) {
    problems.push({
      path: [...at, "minHosts"],
      message: `is ${fleet.minHosts}, more than maxHosts ${fleet.maxHosts}`,
      expected: "minHosts ≤ maxHosts",
    });
  }
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
  if (fleet.kind === "gcp") {
    problems.push(...zoneProblems(fleet.zones, config["gcp:region"]!, (i) => [...at, "zones", i]));
  }
  if (fleet.kind === "aws") {
    problems.push(
      ...zoneProblems(
        fleet.subnets.map((s) => s.zone),
        config["aws:region"]!,
        (i) => [...at, "subnets", i, "zone"],
      ),
    );
  }
  if (fleet.kind === "metal") problems.push(...dnsProviderProblems(fleet.dns.provider, config));
  return problems;
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
): Problem[] {
  const problems = [
    ...weightProblems(traffic, at),
    ...steeringProblems(traffic, at),
    ...dnsProviderProblems(traffic.dns.provider, config),
  ];
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
    }
  });
  return problems;
}

/**
 * Validates a parsed stack document: schema first, then semantic checks (only on a document
 * the schema accepted, so they can trust its shape). Throws InputError with every problem.
 * `stacksDir` is where the stacks a traffic split names are.
 */
export function validateStackDocument(
  file: string,
  document: unknown,
  stacksDir = dirname(file),
): { document: StackFile; inventory?: Inventory } {
  assertNoProblems(file, schemaProblems(stackFileSchema, document));
  const stack = document as StackFile;
  const fleet = stack.config["avfleet:fleet"];
  const traffic = stack.config["avfleet:traffic"];
  if (!fleet === !traffic) {
    assertNoProblems(file, [
      {
        path: ["config"],
        message: fleet
          ? "has both avfleet:fleet and avfleet:traffic"
          : "has neither avfleet:fleet nor avfleet:traffic",
        expected: "exactly one of them",
      },
    ]);
  }
  if (traffic) {
    assertNoProblems(
      file,
      trafficProblems(traffic, stack.config, stacksDir, ["config", "avfleet:traffic"]),
    );
    return { document: stack };
  }
  assertNoProblems(file, fleetProblems(fleet!, stack.config, ["config", "avfleet:fleet"]));
  if (fleet!.kind !== "metal") return { document: stack };
  // A relative inventory path is relative to the stack file's project root (the parent of
  // its stacks/), which is where Pulumi runs the program.
  const inventory = isAbsolute(fleet!.inventory)
    ? fleet!.inventory
    : join(dirname(stacksDir), fleet!.inventory);
  return { document: stack, inventory: loadInventory(inventory) };
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

/** Loads several stacks, collecting every file's problems before failing. */
export function loadStacks(dir: string, names: string[]): LoadedStack[] {
  const loaded: LoadedStack[] = [];
  const lines: string[] = [];
  for (const name of names) {
    try {
      loaded.push(loadStackFile(stackFileName(dir, name)));
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      lines.push(...err.lines);
    }
  }
  if (lines.length > 0) throw new InputError(lines);
  return loaded;
}

/** Offline there is no key to decrypt secrets with: they evaluate to this, marked secret. */
export const OFFLINE_SECRET = "offline-placeholder-secret";

const isSecretKey = (key: string) => (SECRET_KEYS as readonly string[]).includes(key);

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
        isSecretKey(key)
          ? OFFLINE_SECRET
          : typeof value === "string"
            ? value
            : JSON.stringify(value),
      ]),
    ),
    secretKeys: entries.map(([key]) => key).filter(isSecretKey),
  };
}

/**
 * The stack document for the program under `pulumi up`, from Pulumi's decrypted config map.
 * Secret keys become `{secure}` again so that the stack-file schema applies unchanged; the
 * program reads their values as secret Outputs.
 */
export function stackDocumentFromConfigMap(config: Record<string, string>): unknown {
  return {
    config: Object.fromEntries(
      Object.entries(config).map(([key, value]) => [
        key,
        isSecretKey(key)
          ? { secure: "(decrypted by pulumi)" }
          : /^[[{]/.test(value)
            ? JSON.parse(value)
            : value,
      ]),
    ),
  };
}
