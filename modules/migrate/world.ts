/**
 * The rehearsal world: a simulated region the executor migrates in seconds. It answers the
 * same Pulumi calls as the real CLI (config set / up / stack output / preview / destroy,
 * applied instantly), serves per-pool metrics, and keeps time. Sessions arrive on a diurnal
 * curve and stay on the pool the weights gave them until they end; quality has seeded noise,
 * so a run is deterministic. Its state is a file, so a killed executor resumes the same world.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { stackFileName } from "../config/stack";
import { readYamlFile } from "../config/validate";
import type { Clock } from "./clock";
import { consecutiveErrors, type MetricsProvider } from "../gates/metrics";
import type { CliResult, PulumiRunner } from "./pulumi";
import type { LoadedRunbook } from "./runbook";
import { ACTIVE_SESSIONS, HEALTHY_HOSTS, SLO_NAMES, SLOS } from "../gates/slo";
import type { Weights } from "./weights";
import { worldHistogram } from "./world-sessions";

export interface Fault {
  spec: string;
  kind: "target-loss" | "metrics-outage" | "up-fail";
  /** The target's weight from which the fault is active. */
  atWeight: number;
  /** target-loss: the packet loss it causes, in percent. */
  pct?: number;
}

const FAULT = /^(?:(target-loss)=(\d+(?:\.\d+)?)|(metrics-outage)|(up-fail))@(\d{1,3})$/;
export const FAULT_HELP = "target-loss=<pct>@<weight> | metrics-outage@<weight> | up-fail@<weight>";
/** What each fault does, with units, for --help. */
export const FAULT_UNITS = `                     <weight>: the target pool's traffic weight, 0-100 (percent of new
                     joins); a fault is active from the moment the target reaches it,
                     including a weight it already has when the rehearsal starts
                     target-loss=<pct>: the target loses <pct> percent of packets (3 = 3 %)
                     metrics-outage: every metrics query fails (HTTP 503); the run holds
                     after 5 failed queries in a row, as a real run does
                     up-fail: pulumi up fails for any weight change to <weight> or above`;

/** Parses `--fault` specs; undefined for a malformed one. */
export function parseFault(spec: string): Fault | undefined {
  const m = FAULT.exec(spec);
  if (!m || Number(m[5]) > 100) return undefined;
  const kind = (m[1] ?? m[3] ?? m[4]) as Fault["kind"];
  return { spec, kind, atWeight: Number(m[5]), ...(m[2] ? { pct: Number(m[2]) } : {}) };
}

interface Minute {
  t: number;
  sessions: Record<string, number>;
  /** Per pool with sessions: [packet loss, jitter p95 s, join success]. */
  /** Per pool, one figure per SLO in SLO_NAMES order: loss, jitter, joins, RTT. */
  quality: Record<string, [number, number, number, number]>;
}

interface SimStack {
  /** `pulumi config set --path` values waiting for `up`. */
  staged: Record<string, number>;
  /** Stack outputs after the last `up`; null once destroyed. */
  outputs: Record<string, any> | null;
}

export interface WorldState {
  seed: number;
  faults: Fault[];
  region: string;
  traffic: string;
  source: string;
  target: string;
  pools: string[];
  now: number;
  stacks: Record<string, SimStack>;
  hosts: Record<string, { healthy: number; want: number; readyAt: number }>;
  minutes: Minute[];
  /** When each fault became active. */
  triggered: Record<string, number>;
  /** Every `up` that changed something, for the tests' "never applied twice". */
  ups: { stack: string; at: number; change: string }[];
}

/** Tuesday 14:00 UTC: afternoon traffic in the Americas and Europe. */
const START = Date.UTC(2026, 2, 10, 14, 0, 0);
const MINUTE = 60_000;
export const MEAN_CALL_MIN = 30;
const BOOT_MS = 4 * MINUTE;
const PEAK_JOINS_PER_MIN = 400;

/** Joins per minute: a diurnal curve peaking at 18:00 UTC. */
export function joinsPerMinute(t: number): number {
  const hour = (t / 3_600_000) % 24;
  return PEAK_JOINS_PER_MIN * (0.6 + 0.4 * Math.cos((2 * Math.PI * (hour - 18)) / 24));
}

/** Deterministic noise in [0, 1) from the seed and a key (FNV-1a, then an avalanche mix). */
export function noise(seed: number, key: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 15), h | 1);
  h ^= h + Math.imul(h ^ (h >>> 7), h | 61);
  return ((h ^ (h >>> 14)) >>> 0) / 4294967296;
}

function fleetOutputs(file: string): Record<string, unknown> {
  const fleet = (readYamlFile(file, "a fleet stack file") as any)?.config?.["avfleet:fleet"] ?? {};
  return {
    pool: fleet.pool,
    mediaRegion: fleet.mediaRegion,
    minHosts: fleet.minHosts ?? 1,
    maxHosts: fleet.maxHosts ?? 1,
  };
}

/**
 * Activates every fault whose weight the target has reached, from now on: a fault at the
 * weight traffic already has is active from the world's first minute. `up-fail` acts on `up`.
 */
function triggerFaults(state: WorldState): void {
  const at = currentWeights(state)[state.target] ?? 0;
  for (const f of state.faults) {
    if (f.kind !== "up-fail" && at >= f.atWeight) state.triggered[f.spec] ??= state.now;
  }
}

export function createWorld(loaded: LoadedRunbook, seed: number, faults: Fault[]): WorldState {
  const { runbook, traffic } = loaded;
  const stacks: Record<string, SimStack> = {
    [runbook.traffic]: {
      staged: {},
      outputs: { mediaRegion: runbook.region, weights: { ...traffic.weights } },
    },
  };
  const hosts: WorldState["hosts"] = {};
  for (const pool of traffic.pools) {
    const outputs = fleetOutputs(stackFileName(loaded.stacksDir, pool));
    stacks[pool] = { staged: {}, outputs };
    hosts[pool] = {
      healthy: Number(outputs.minHosts),
      want: Number(outputs.minHosts),
      readyAt: START,
    };
  }
  // Start in steady state: every pool carries its share of calls already in progress.
  const sessions = Object.fromEntries(
    traffic.pools.map((p) => [
      p,
      (joinsPerMinute(START) * MEAN_CALL_MIN * traffic.weights[p]) / 100,
    ]),
  );
  const world: WorldState = {
    seed,
    faults,
    region: runbook.region,
    traffic: runbook.traffic,
    source: runbook.source,
    target: runbook.target,
    pools: traffic.pools,
    now: START,
    stacks,
    hosts,
    minutes: [{ t: START, sessions, quality: {} }],
    triggered: {},
    ups: [],
  };
  triggerFaults(world);
  return world;
}

export function currentWeights(state: WorldState): Weights {
  return state.stacks[state.traffic].outputs!.weights;
}

function quality(state: WorldState, pool: string, t: number): [number, number, number, number] {
  const key = `${pool}@${t}`;
  const lossFault = state.faults.find(
    (f) =>
      f.kind === "target-loss" && pool === state.target && (state.triggered[f.spec] ?? t + 1) <= t,
  );
  const loss = lossFault
    ? (lossFault.pct ?? 0) / 100 + 0.002 * noise(state.seed, `loss-f${key}`)
    : 0.002 + 0.0015 * noise(state.seed, `loss${key}`);
  const jitter = 0.01 + 0.008 * noise(state.seed, `jitter${key}`);
  const join = 0.9985 + 0.0014 * noise(state.seed, `join${key}`);
  const rtt = 0.06 + 0.03 * noise(state.seed, `rtt${key}`);
  return [loss, jitter, join, rtt];
}

/** Simulates whole minutes up to `until`: arrivals split by weight, calls ending at random. */
export function advance(state: WorldState, until: number): void {
  let last = state.minutes[state.minutes.length - 1];
  while (last.t + MINUTE <= until) {
    const t = last.t + MINUTE;
    const weights = currentWeights(state);
    const joins = joinsPerMinute(t);
    const stay = Math.exp(-1 / MEAN_CALL_MIN);
    const sessions: Record<string, number> = {};
    const q: Minute["quality"] = {};
    for (const pool of state.pools) {
      sessions[pool] = (last.sessions[pool] ?? 0) * stay + (joins * (weights[pool] ?? 0)) / 100;
      if (sessions[pool] >= 1) q[pool] = quality(state, pool, t);
    }
    last = { t, sessions, quality: q };
    state.minutes.push(last);
  }
  for (const h of Object.values(state.hosts)) {
    if (h.healthy !== h.want && until >= h.readyAt) h.healthy = h.want;
  }
  state.now = Math.max(state.now, until);
}

function faultActive(state: WorldState, kind: Fault["kind"]): Fault | undefined {
  return state.faults.find((f) => f.kind === kind && state.triggered[f.spec] !== undefined);
}

function ok(stdout = ""): CliResult {
  return { exitCode: 0, stdout, stderr: "" };
}

function fail(message: string): CliResult {
  return { exitCode: 255, stdout: "", stderr: `error: ${message}` };
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** `pulumi up` on a simulated stack: staged config becomes outputs, or the up fails. */
function up(state: WorldState, name: string): CliResult {
  const stack = state.stacks[name];
  if (!stack.outputs) return fail(`stack ${name} was destroyed`);
  if (name === state.traffic) {
    const before: Weights = stack.outputs.weights;
    const weights = Object.fromEntries(
      state.pools.map((p, i) => [
        p,
        stack.staged[`avfleet:traffic.pools[${i}].weight`] ?? before[p],
      ]),
    );
    const sum = Object.values(weights).reduce((a, b) => a + b, 0);
    if (sum !== 100) return fail(`traffic-split: pool weights sum to ${sum}, expected 100`);
    const upFail = state.faults.find(
      (f) => f.kind === "up-fail" && weights[state.target] >= f.atWeight,
    );
    if (upFail && weights[state.target] !== before[state.target]) {
      return fail(
        `update failed: route53 ChangeResourceRecordSets: Throttling: Rate exceeded (rehearsal fault ${upFail.spec})`,
      );
    }
    stack.staged = {};
    if (Object.keys(weights).every((p) => weights[p] === before[p]))
      return ok("Resources: unchanged");
    stack.outputs = { ...stack.outputs, weights };
    state.ups.push({ stack: name, at: state.now, change: JSON.stringify(weights) });
    triggerFaults(state);
    return ok(
      `Outputs: weights ${JSON.stringify(weights)} | Resources: ${state.pools.length} updated`,
    );
  }
  const minHosts = stack.staged["avfleet:fleet.minHosts"];
  stack.staged = {};
  if (minHosts === undefined || minHosts === stack.outputs.minHosts)
    return ok("Resources: unchanged");
  stack.outputs = { ...stack.outputs, minHosts };
  state.hosts[name] = { ...state.hosts[name], want: minHosts, readyAt: state.now + BOOT_MS };
  state.ups.push({ stack: name, at: state.now, change: `minHosts ${minHosts}` });
  return ok(`Resources: 1 updated (minHosts ${minHosts})`);
}

/** The fake `pulumi` CLI: the calls the executor makes, answered from the world's state. */
function pulumiCall(state: WorldState, args: string[]): { result: CliResult; changed: boolean } {
  const name = flag(args, "--stack") ?? "";
  const stack = state.stacks[name];
  if (!stack) return { result: fail(`no stack named '${name}' found`), changed: false };
  const [verb, sub] = args;
  if (verb === "stack" && sub === "output") {
    return { result: ok(JSON.stringify(stack.outputs ?? {})), changed: false };
  }
  if (verb === "config" && sub === "set") {
    // --config-file: a dry run's copy of the config, which the world does not keep.
    if (flag(args, "--config-file")) return { result: ok(), changed: false };
    stack.staged[args[args.indexOf("--path") + 1]] = Number(args[args.indexOf("--path") + 2]);
    return { result: ok(), changed: true };
  }
  if (verb === "up") return { result: up(state, name), changed: true };
  if (verb === "preview" || args.includes("--preview-only")) {
    const policies = flag(args, "--policy-pack")
      ? " | Policy Packs run: policy (local): passed"
      : "";
    return {
      result: ok(`Previewing update (${name}) | Resources: ~ 1 to update${policies}`),
      changed: false,
    };
  }
  if (verb === "destroy") {
    stack.outputs = null;
    state.hosts[name] = { healthy: 0, want: 0, readyAt: state.now };
    state.ups.push({ stack: name, at: state.now, change: "destroyed" });
    return { result: ok("Resources: - destroyed"), changed: true };
  }
  return { result: fail(`unknown command "${args.join(" ")}"`), changed: false };
}

function parseSelector(query: string): { metric: string; pool: string } {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{pool="([^"]+)"\}$/.exec(query);
  if (!m) throw new Error(`unsupported query ${query}`);
  return { metric: m[1], pool: m[2] };
}

export interface World {
  state: WorldState;
  pulumi: PulumiRunner;
  metrics: MetricsProvider;
  clock: Clock;
}

export function saveWorld(file: string, state: WorldState): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w");
  writeSync(fd, JSON.stringify(state));
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
}

export function loadWorld(file: string): WorldState {
  return JSON.parse(readFileSync(file, "utf8"));
}

/** Drivers over a world kept in `file`; every change is saved before the call returns. */
export function worldDrivers(
  file: string,
  state: WorldState,
  afterWrite?: (what: string) => void,
): World {
  const save = () => {
    saveWorld(file, state);
    afterWrite?.("world");
  };
  // The same consecutive-error limit as a real run's Prometheus provider.
  const errors = consecutiveErrors();
  const outage = () => {
    const f = faultActive(state, "metrics-outage");
    if (!f) return errors.succeeded();
    const err = new Error(
      `metrics backend unavailable: 503 Service Unavailable (rehearsal fault ${f.spec})`,
    );
    throw errors.failed(err, (message) => Object.assign(new Error(message), { errorLimit: true }));
  };
  return {
    state,
    pulumi: async (args) => {
      const { result, changed } = pulumiCall(state, args);
      if (changed) save();
      return result;
    },
    metrics: {
      async range(query, from, to) {
        outage();
        const { metric, pool } = parseSelector(query);
        const index = SLO_NAMES.findIndex((slo) => SLOS[slo].metric === metric);
        if (index < 0) throw new Error(`unknown metric ${metric}`);
        return state.minutes
          .filter((m) => m.t > from && m.t <= to && m.quality[pool])
          .map((m) => m.quality[pool][index]);
      },
      async instant(query) {
        outage();
        const { metric, pool } = parseSelector(query);
        if (metric === HEALTHY_HOSTS) return state.hosts[pool]?.healthy;
        if (metric === ACTIVE_SESSIONS) {
          const last = state.minutes[state.minutes.length - 1];
          return Math.round(last.sessions[pool] ?? 0);
        }
        throw new Error(`unknown metric ${metric}`);
      },
      async histogram(metric, pool, from, to) {
        outage();
        return worldHistogram(state, metric, pool, from, to);
      },
    },
    clock: {
      now: () => state.now,
      // Simulated time costs nothing to skip; aborts are checked between gate rounds.
      tickMs: Number.POSITIVE_INFINITY,
      async sleep(ms) {
        advance(state, state.now + ms);
        save();
        await new Promise((resolve) => setImmediate(resolve));
      },
    },
  };
}
