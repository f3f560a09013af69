/** Shared set-up for the migrate tests: temp stacks, runbooks and in-process rehearsals. */
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import YAML from "yaml";
import { localBackend, statePaths } from "../../modules/migration-state/backend";
import { migrationContext, type ExecutorContext } from "../../modules/migrate/executor";
import { readJournal } from "../../modules/migration-state/journal";
import { planUnits, type Unit } from "../../modules/runbook/plan";
import { loadRunbook, type LoadedRunbook } from "../../modules/runbook/runbook";
import {
  createWorld,
  loadWorld,
  saveWorld,
  worldDrivers,
  type World,
} from "../../modules/rehearsal/world";
import { parseFault } from "../../modules/rehearsal/faults";
import { avfleet, ROOT, type CliResult } from "../support/cli";

export const FIXTURE_STACKS = resolve(__dirname, "fixtures", "stacks");
export const US_WEST = join(ROOT, "runbooks", "us-west.yaml");

/** tmpfs where there is one: the crash tests make thousands of fsync'd writes. */
const TEMP_ROOT = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();

export function tempDir(prefix = "avfleet-migrate-"): string {
  return mkdtempSync(join(TEMP_ROOT, prefix));
}

/** A private copy of the fixture stacks, so a test may add or change stack files. */
export function tempStacks(): string {
  const dir = join(tempDir(), "stacks");
  cpSync(FIXTURE_STACKS, dir, { recursive: true });
  return dir;
}

export function writeRunbook(dir: string, document: unknown, name = "runbook.yaml"): string {
  const file = join(dir, name);
  writeFileSync(file, typeof document === "string" ? document : YAML.stringify(document));
  return file;
}

/** A short us-west move: two weights, a drain, an approval, decommission. */
/** A planned failover's steps: preflight, then 25 points at a time onto the target. */
export const FAILOVER_STEPS = [
  { kind: "preflight" },
  {
    kind: "shift",
    weights: [25, 50, 75, 100],
    bake: "10m",
    interval: "5m",
    maxBake: "60m",
    gates: [{ slo: "packet-loss" }],
  },
];

export const SHORT_RUNBOOK = {
  region: "us-west",
  traffic: "traffic-us-west",
  source: "metal-sjc",
  target: "gcp-us-west1",
  steps: [
    { kind: "preflight" },
    { kind: "scale", minHosts: 12, healthyWithin: "10m" },
    {
      kind: "shift",
      weights: [10, 25],
      bake: "2m",
      interval: "1m",
      gates: [{ slo: "packet-loss" }, { slo: "join-success" }],
    },
    { kind: "wait", duration: "3m" },
    {
      kind: "shift",
      weights: [50, 75, 100],
      bake: "2m",
      interval: "1m",
      gates: [{ slo: "packet-loss" }],
    },
    { kind: "drain", belowSessions: 4000, maxWait: "1h", interval: "10m" },
    { kind: "approve", reason: "retire metal-sjc" },
    { kind: "decommission" },
  ],
};

/** Fixture stacks whose traffic split already sends `gcp` points to gcp-us-west1. */
export function stacksAt(metal: number, gcp: number): string {
  const stacks = tempStacks();
  const doc = YAML.parse(readFileSync(`${stacks}/Pulumi.traffic-us-west.yaml`, "utf8"));
  doc.config["avfleet:traffic"].pools = [
    { stack: "metal-sjc", weight: metal },
    { stack: "gcp-us-west1", weight: gcp },
  ];
  writeRunbook(stacks, doc, "Pulumi.traffic-us-west.yaml");
  return stacks;
}

export interface Rehearsal {
  loaded: LoadedRunbook;
  stateDir: string;
  worldFile: string;
}

/**
 * The plan unit of a rehearsal that shifts the target to `weight`, or the first of a kind:
 * tests name steps by what they do, so a runbook that gains a step keeps its tests.
 */
export function unitOf(r: Rehearsal, which: { weight: number } | { kind: Unit["kind"] }): string {
  const { target } = r.loaded.runbook;
  const unit = planUnits(r.loaded).find((u) =>
    "weight" in which
      ? u.kind === "shift" && u.weights[target] === which.weight
      : u.kind === which.kind,
  );
  if (!unit) throw new Error(`no unit ${JSON.stringify(which)} in ${r.loaded.file}`);
  return unit.id;
}

/** Every entry of a rehearsal's journal, as on disk now. */
export function journalOf(r: Rehearsal) {
  return readJournal(statePaths(r.stateDir).journal);
}

/** A new rehearsal of `runbookFile`: its world saved in a fresh state dir. */
export function newRehearsal(
  runbookFile: string,
  stacksDir: string,
  faults: string[] = [],
  seed = 1,
): Rehearsal {
  const loaded = loadRunbook(runbookFile, stacksDir);
  const stateDir = tempDir("avfleet-state-");
  const worldFile = join(stateDir, "world.json");
  saveWorld(
    worldFile,
    createWorld(
      loaded,
      seed,
      faults.map((f) => parseFault(f)!),
    ),
  );
  return { loaded, stateDir, worldFile };
}

/**
 * What one executor process sees: the world and journal as they are on disk now. `pid`
 * stands for the process; every other pid counts as dead, as after a kill.
 */
export function executorFor(
  r: Rehearsal,
  options: { pid?: number; by?: string; afterWrite?: (what: string) => void } = {},
): { ctx: ExecutorContext; world: World } {
  const world = worldDrivers(r.worldFile, loadWorld(r.worldFile), options.afterWrite);
  const pid = options.pid ?? 1;
  return {
    world,
    ctx: migrationContext({
      loaded: r.loaded,
      units: planUnits(r.loaded),
      // Key "." is the state dir itself.
      backend: localBackend(r.stateDir, {
        pid,
        alive: (p) => p === pid,
        afterWrite: options.afterWrite,
      }),
      key: ".",
      by: options.by ?? "tester",
      drivers: world,
      mode: "rehearse",
    }),
  };
}

/**
 * A database of its own on the test server (.ci/postgres-start's AVFLEET_TEST_POSTGRES), its
 * URL with `?lease=` when given.
 */
export async function freshDatabase(lease?: string): Promise<string> {
  const server = process.env.AVFLEET_TEST_POSTGRES!;
  const name = `migrate_${randomBytes(5).toString("hex")}`;
  const client = new pg.Client(server);
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(server);
  url.pathname = `/${name}`;
  if (lease) url.searchParams.set("lease", lease);
  return url.toString();
}

/** `avfleet migrate <action> <runbook> --rehearse` on the fixture stacks, from `checkout`. */
export function rehearsalCli(
  runbook: string,
  checkout: string,
  action: string,
  args: string[] = [],
  env?: NodeJS.ProcessEnv,
): CliResult {
  const common = ["--rehearse", "--stacks-dir", FIXTURE_STACKS, "--state-dir", checkout];
  return avfleet(["migrate", action, runbook, ...common, ...args], { env });
}
