/**
 * The reviewer's summary of one stack's change: what a media fleet's reviewer looks at
 * first — resource counts, hosts, monthly cost, traffic weights, host states, policy.
 * Stack outputs are read defensively: a stack without `weights` has no traffic row.
 */
import type { Plan } from "../plan/plan";
import type { StackDiff } from "./diff";
import { hostEffects, type HostEffect, type Range } from "./effects";
import type { VerdictChanges } from "./verdicts";

export interface Delta<T> {
  before?: T;
  after?: T;
}

/** A keyed value that changed: a pool's weight, a host's state. */
export interface Move<T> extends Delta<T> {
  key: string;
}

export interface StackSummary {
  stack: string;
  status: StackDiff["status"];
  created: number;
  updated: number;
  replaced: number;
  deleted: number;
  /** Only when the host range changed. */
  hosts?: Delta<Range>;
  /** Only when the monthly cost changed; USD. */
  cost?: { compute: Delta<Range>; egress: Delta<number> };
  /** Traffic moving: weights of a traffic stack's pools. */
  weights: Move<number>[];
  /** Bare-metal hosts changing state (active, draining, retired), joining or leaving. */
  hostStates: Move<string>[];
  policy: VerdictChanges;
  /** What the change does to the hosts running now, by the provider model (effects.ts). */
  hostEffects: HostEffect[];
}

const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);

function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : {};
}

/** Hosts a stack runs: its autoscaling range, or (bare metal) its active hosts. */
export function hostRange(plan: Plan | undefined): Range | undefined {
  if (!plan) return undefined;
  const o = plan.outputs;
  const min = num(o.minHosts) ?? num(record(o.hosts).active);
  const max = num(o.maxHosts) ?? num(record(o.hosts).active);
  return min !== undefined && max !== undefined ? { min, max } : undefined;
}

function moves<T>(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  accept: (v: unknown) => v is T,
): Move<T>[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.flatMap((key) => {
    const b = accept(before[key]) ? before[key] : undefined;
    const a = accept(after[key]) ? after[key] : undefined;
    if (b === a) return [];
    return [
      { key, ...(b === undefined ? {} : { before: b }), ...(a === undefined ? {} : { after: a }) },
    ];
  });
}

const isNumber = (v: unknown): v is number => typeof v === "number";
const isString = (v: unknown): v is string => typeof v === "string";

const sameRange = (a?: Range, b?: Range) => a?.min === b?.min && a?.max === b?.max;

function costDelta(base: Plan | undefined, head: Plan | undefined): StackSummary["cost"] {
  const compute: Delta<Range> = {
    ...(base?.cost ? { before: base.cost.computeMonthlyUsd } : {}),
    ...(head?.cost ? { after: head.cost.computeMonthlyUsd } : {}),
  };
  const egress: Delta<number> = {
    ...(base?.cost ? { before: base.cost.egressMonthlyUsd } : {}),
    ...(head?.cost ? { after: head.cost.egressMonthlyUsd } : {}),
  };
  if (sameRange(compute.before, compute.after) && egress.before === egress.after) return undefined;
  return { compute, egress };
}

export function summarizeStack(
  diff: StackDiff,
  base: Plan | undefined,
  head: Plan | undefined,
  policy: VerdictChanges,
): StackSummary {
  const count = (op: string) => diff.resources.filter((r) => r.op === op).length;
  const hosts = { before: hostRange(base), after: hostRange(head) };
  const cost = costDelta(base, head);
  return {
    stack: diff.stack,
    status: diff.status,
    created: count("create"),
    updated: count("update"),
    replaced: count("replace"),
    deleted: count("delete"),
    ...(sameRange(hosts.before, hosts.after) ? {} : { hosts }),
    ...(cost ? { cost } : {}),
    weights: moves(record(base?.outputs.weights), record(head?.outputs.weights), isNumber),
    hostStates: moves(record(base?.outputs.hostStates), record(head?.outputs.hostStates), isString),
    policy,
    hostEffects: hostEffects(diff, head, hostRange(base) ?? hostRange(head)),
  };
}

/** Monthly cost change in USD: compute at min and at max hosts, and egress. */
export function costChange(cost: NonNullable<StackSummary["cost"]>): {
  computeMin: number;
  computeMax: number;
  egress: number;
} {
  return {
    computeMin: (cost.compute.after?.min ?? 0) - (cost.compute.before?.min ?? 0),
    computeMax: (cost.compute.after?.max ?? 0) - (cost.compute.before?.max ?? 0),
    egress: (cost.egress.after ?? 0) - (cost.egress.before ?? 0),
  };
}
