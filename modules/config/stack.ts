/**
 * Stack files: find them, load one into a typed, validated config (or every problem at
 * once), and turn it into the string map Pulumi's config runtime takes.
 */
import { readdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { FleetSpec } from "./fleet.schema";
import { stackFileSchema, type StackFile } from "./stack.schema";
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

/** Checks a schema cannot express: orderings, overlaps, zones inside the region. */
export function fleetProblems(
  fleet: FleetSpec,
  region: string | undefined,
  at: KeyPath,
): Problem[] {
  const problems: Problem[] = [];
  if (fleet.minHosts > fleet.maxHosts) {
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
  if (fleet.kind === "gcp" && region) {
    fleet.zones.forEach((zone, i) => {
      if (!zone.startsWith(`${region}-`)) {
        problems.push({
          path: [...at, "zones", i],
          message: `is "${zone}", outside region ${region}`,
          expected: `a zone of ${region}, like ${region}-a`,
        });
      }
    });
  }
  return problems;
}

/**
 * Validates a parsed stack document: schema first, then semantic checks (only on a document
 * the schema accepted, so they can trust its shape). Throws InputError with every problem.
 */
export function validateStackDocument(file: string, document: unknown): StackFile {
  assertNoProblems(file, schemaProblems(stackFileSchema, document));
  const stack = document as StackFile;
  const fleet = stack.config["avfleet:fleet"];
  assertNoProblems(
    file,
    fleetProblems(fleet, stack.config["gcp:region"], ["config", "avfleet:fleet"]),
  );
  return stack;
}

export function loadStackFile(file: string): LoadedStack {
  const name = STACK_FILE.exec(basename(file))?.[1];
  if (!name) {
    throw new Error(`${file} is not named Pulumi.<stack>.yaml`);
  }
  const document = validateStackDocument(
    file,
    readYamlFile(file, "a Pulumi stack file with a config: mapping"),
  );
  return { name, file, document, fleet: document.config["avfleet:fleet"] };
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

/**
 * The string map Pulumi's config runtime holds for a stack: structured values JSON-encoded,
 * as `pulumi config` stores them.
 */
export function pulumiConfigMap(stack: StackFile): Record<string, string> {
  return Object.fromEntries(
    Object.entries(stack.config).map(([key, value]) => [
      key,
      typeof value === "string" ? value : JSON.stringify(value),
    ]),
  );
}

/** The inverse of pulumiConfigMap, for the program under `pulumi up`. */
export function stackDocumentFromConfigMap(config: Record<string, string>): unknown {
  return {
    config: Object.fromEntries(
      Object.entries(config).map(([key, value]) => [
        key,
        /^[[{]/.test(value) ? JSON.parse(value) : value,
      ]),
    ),
  };
}
