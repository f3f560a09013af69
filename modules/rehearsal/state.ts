/**
 * The rehearsal world's state, as saved between calls: its stacks, hosts, demand and minutes
 * (world.ts simulates it, fake-cli.ts answers the executor's Pulumi calls from it).
 */
import type { Weights } from "../runbook/weights";
import type { Fault } from "./faults";

export interface Minute {
  t: number;
  sessions: Record<string, number>;
  /** Sessions that joined each pool in this minute (none in the first). */
  joins?: Record<string, number>;
  /** Joins each pool refused in this minute: its healthy hosts were full (#28). */
  refused?: Record<string, number>;
  /** Per pool, one figure per SLO in SLO_NAMES order: loss, jitter, joins, RTT. */
  quality: Record<string, [number, number, number, number]>;
}

/** The region's demand, from the target fleet's spec: what modules/world builds its curve from. */
export interface Demand {
  region: string;
  utcOffsetHours: number;
  peakSessions: number;
  peakToAverage: number;
}

export interface SimStack {
  /** `pulumi config set --path` / `set-all --path` values waiting for `up`. */
  staged: Record<string, number | boolean | string>;
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
  /** Each pool stack's `pool` label: the world answers queries by it, as the fleet's hosts do. */
  labels: Record<string, string>;
  now: number;
  stacks: Record<string, SimStack>;
  hosts: Record<string, { healthy: number; want: number; readyAt: number }>;
  /**
   * The live minimum of each AWS pool whose group's schedules move it (`autoscaling.policy:
   * ours`): what an `up` reaches only when the program stops ignoring minSize (#28). The world
   * fires no scheduled action; its pools start at their minHosts.
   */
  scheduledGroups?: Record<string, { minSize: number }>;
  demand: Demand;
  /** Sessions in progress per pool, one count per phase of the session mix. */
  phases: Record<string, number[]>;
  minutes: Minute[];
  /** When each fault became active. */
  triggered: Record<string, number>;
  /** Every `up` that changed something, for the tests' "never applied twice". */
  ups: { stack: string; at: number; change: string }[];
  /** The traffic split's maxStepPct: what the pack's step rule allows one update to move. */
  maxStepPct: number;
  /** The traffic stack file's weights as the run found them: what a stale checkout deploys. */
  checkoutWeights: Weights;
  /**
   * Calls one healthy host of a cloud pool carries (its capacity as preview counts it); a pool
   * without a figure (a bare-metal site, whose hosts are its inventory, or a stack that does not
   * load) refuses no join.
   */
  sessionsPerHost?: Record<string, number>;
  /** A concurrent-up fault's update: until when it holds the traffic stack, and its verdict. */
  concurrent?: { fault: string; until: number; outcome: string };
}

/** Minute 0 of modules/world's traces: Monday 9 March 2026, 00:00 UTC. */
export const MONDAY = Date.UTC(2026, 2, 9, 0, 0, 0);
export const MINUTE = 60_000;
export const BOOT_MS = 4 * MINUTE;

export function currentWeights(state: WorldState): Weights {
  return state.stacks[state.traffic].outputs!.weights;
}

/** Faults that act on the `up` that moves the target to their weight, not on traffic. */
const ON_UP: Fault["kind"][] = ["up-fail", "concurrent-up"];

/**
 * Activates every fault whose weight the target has reached, from now on: a fault at the
 * weight traffic already has is active from the world's first minute. `up-fail` acts on `up`.
 */
export function triggerFaults(state: WorldState): void {
  const at = currentWeights(state)[state.target] ?? 0;
  for (const f of state.faults) {
    if (!ON_UP.includes(f.kind) && at >= f.atWeight) state.triggered[f.spec] ??= state.now;
  }
}
