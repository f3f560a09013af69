/**
 * The difference between one stack's Plans at two revisions, resource by resource (matched
 * by URN, as Pulumi matches them against its state).
 */
import { isDeepStrictEqual } from "node:util";
import type { Plan, PlanResource } from "../plan/plan";
import { forcesReplacement, topLevel } from "../providers/replacement";

export type Op = "create" | "update" | "replace" | "delete";

/** One changed value; `before`/`after` are absent when the value is absent on that side. */
export interface ValueChange {
  /** e.g. `allows[0].ports[0]`, `metadata["user-data"]`. */
  path: string;
  before?: unknown;
  after?: unknown;
}

export interface PropertyChange extends ValueChange {
  /** This change alone makes the provider replace the resource. */
  replaces: boolean;
}

export interface ResourceChange {
  op: Op;
  urn: string;
  type: string;
  name: string;
  /**
   * Input changes (update and replace); for a create, the scripts it carries (multi-line string
   * inputs), which a reviewer reads as added lines: a new host's setup, a drain request.
   */
  changes: PropertyChange[];
}

export interface StackDiff {
  stack: string;
  status: "added" | "removed" | "changed" | "unchanged";
  resources: ResourceChange[];
  outputs: ValueChange[];
  /** Capacity and cost (fleet stacks): they move with prices and demand, not only inputs. */
  economics: ValueChange[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

function childPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

/** Leaf-level differences between two values; absent keys stay absent in the change. */
export function diffValues(before: unknown, after: unknown, path = ""): ValueChange[] {
  if (isDeepStrictEqual(before, after)) return [];
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffValues(before[k], after[k], childPath(path, k)));
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    return Array.from({ length: Math.max(before.length, after.length) }, (_, i) =>
      diffValues(before[i], after[i], childPath(path, i)),
    ).flat();
  }
  return [
    {
      path,
      ...(before === undefined ? {} : { before }),
      ...(after === undefined ? {} : { after }),
    },
  ];
}

function resourceChange(
  before: PlanResource | undefined,
  after: PlanResource | undefined,
): ResourceChange | undefined {
  const r = (after ?? before)!;
  const base = { urn: r.urn, type: r.type, name: r.name };
  if (!before) {
    const scripts = diffValues({}, after!.inputs)
      .filter((c) => typeof c.after === "string" && c.after.includes("\n"))
      .map((c) => ({ ...c, replaces: false }));
    return { op: "create", ...base, changes: scripts };
  }
  if (!after) return { op: "delete", ...base, changes: [] };
  // Pulumi diffs an ignored input against the state, not the program: a change there is none.
  const ignored = new Set(after.ignoreChanges ?? []);
  const changes: PropertyChange[] = diffValues(before.inputs, after.inputs)
    .filter((c) => !ignored.has(topLevel(c.path)))
    .map((c) => ({
      ...c,
      replaces: after.custom && forcesReplacement(after.type, c.path, after.ignoreChanges),
    }));
  // A resource whose type changed under the same URN cannot be updated in place.
  const retyped = before.type !== after.type;
  if (changes.length === 0 && !retyped) return undefined;
  const op: Op = retyped || changes.some((c) => c.replaces) ? "replace" : "update";
  return { op, ...base, changes };
}

/** Either Plan may be absent: a stack added or removed by the change. */
export function diffPlans(base: Plan | undefined, head: Plan | undefined): StackDiff {
  const stack = (head ?? base)!.name;
  const before = new Map((base?.resources ?? []).map((r) => [r.urn, r]));
  const after = new Map((head?.resources ?? []).map((r) => [r.urn, r]));
  // Plan order is declaration order: keep it, deleted resources after the rest.
  const urns = [...new Set([...after.keys(), ...before.keys()])];
  const resources = urns
    .map((urn) => resourceChange(before.get(urn), after.get(urn)))
    .filter((c): c is ResourceChange => c !== undefined);
  const outputs = diffValues(base?.outputs ?? {}, head?.outputs ?? {});
  const economics = diffValues(
    { capacity: base?.capacity, cost: base?.cost },
    { capacity: head?.capacity, cost: head?.cost },
  );
  const status = !base
    ? "added"
    : !head
      ? "removed"
      : resources.length || outputs.length || economics.length
        ? "changed"
        : "unchanged";
  return { stack, status, resources, outputs, economics };
}
