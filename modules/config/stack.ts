/**
 * Stack files: find them, load one into a typed, validated config (or every problem at
 * once), and turn it into the string map Pulumi's config runtime takes.
 */
import { readdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { FleetSpec } from "./fleet.schema";
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
  fleet: FleetSpec;
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

/**
 * Checks a schema cannot express: orderings, overlaps, zones inside the region, the DNS
 * provider's own config being there.
 */
export function fleetProblems(config: StackFile["config"], at: KeyPath): Problem[] {
  const fleet = config["avfleet:fleet"];
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
  if (fleet.kind === "metal") {
    const needs = fleet.dns.provider === "route53" ? "aws:region" : "gcp:project";
    if (config[needs] === undefined) {
      problems.push({
        path: ["config", needs],
        message: "is missing",
        expected: `the ${fleet.dns.provider} provider's ${needs}, since dns.provider is ${fleet.dns.provider}`,
      });
    }
  }
  return problems;
}

/**
 * Validates a parsed stack document: schema first, then semantic checks (only on a document
 * the schema accepted, so they can trust its shape). Throws InputError with every problem.
 */
export function validateStackDocument(
  file: string,
  document: unknown,
): { document: StackFile; inventory?: Inventory } {
  assertNoProblems(file, schemaProblems(stackFileSchema, document));
  const stack = document as StackFile;
  assertNoProblems(file, fleetProblems(stack.config, ["config", "avfleet:fleet"]));
  const fleet = stack.config["avfleet:fleet"];
  // Relative inventory paths are relative to the project root, where Pulumi runs the program.
  return fleet.kind === "metal"
    ? { document: stack, inventory: loadInventory(fleet.inventory) }
    : { document: stack };
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
  return { name, file, document, fleet: document.config["avfleet:fleet"], inventory };
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
