/**
 * Pure: a validated runbook → the flat list of units the executor runs, one per weight of a
 * shift, each with its title and the exact Pulumi calls it makes. A unit is what the journal
 * marks complete, so a resume never repeats a finished weight.
 */
import type { Gate } from "./runbook.schema";
import { durationMs, type LoadedRunbook } from "./runbook";
import {
  PLANNED_AT,
  PLANNED_SEQ,
  pulumiArgs,
  setMinHostsArgs,
  setWeightsArgs,
} from "./pulumi-args";
import { shiftedWeights } from "../traffic/weights";
import type { Weights } from "./weights";
import { receivingFloors, type Floor } from "./hosts-needed";
import { RAISE_FLOOR_DEFAULTS } from "./runbook.schema";

interface UnitBase {
  /** 1-based position in the plan, as a string: the journal's key. */
  id: string;
  /** Index of the runbook step it comes from. */
  step: number;
  title: string;
  /** The Pulumi calls it makes (reads and writes), in order. */
  commands: string[][];
}

export type Unit = UnitBase &
  (
    | { kind: "preflight" }
    | { kind: "scale"; stack: string; minHosts: number; healthyWithinMs: number }
    | {
        kind: "shift";
        weights: Weights;
        /** Floors raised before the weights move (#28), and how long their hosts may take. */
        floors: Floor[];
        floorWithinMs: number;
        bakeMs: number;
        maxBakeMs: number;
        intervalMs: number;
        gates: Gate[];
      }
    | {
        kind: "drain";
        weights: Weights;
        floors: Floor[];
        floorWithinMs: number;
        belowSessions: number;
        maxWaitMs: number;
        intervalMs: number;
      }
    | { kind: "approve"; reason: string; expiresAfterMs: number }
    | { kind: "decommission"; stack: string }
    | { kind: "wait"; ms: number }
  );

type WithoutId<U> = U extends unknown ? Omit<U, "id"> : never;

export type UnitOf<K extends Unit["kind"]> = Extract<Unit, { kind: K }>;

/** The Pulumi calls of one weight change: read, set every pool (one write), up, read back. */
export function weightChangeArgs(loaded: LoadedRunbook, weights: Weights): string[][] {
  const { traffic } = loaded.runbook;
  return [
    pulumiArgs.outputs(traffic),
    setWeightsArgs(traffic, loaded.traffic.pools, weights, { seq: PLANNED_SEQ, rollback: false }),
    pulumiArgs.up(traffic),
    pulumiArgs.outputs(traffic),
  ];
}

/** The Pulumi calls of one minHosts change: read, set it with its marker (one write), up, read back. */
export function minHostsArgs(stack: string, minHosts: number): string[][] {
  return [
    pulumiArgs.outputs(stack),
    setMinHostsArgs(stack, minHosts, { seq: PLANNED_SEQ, rollback: false, at: PLANNED_AT }),
    pulumiArgs.up(stack),
    pulumiArgs.outputs(stack),
  ];
}

export function planUnits(loaded: LoadedRunbook): Unit[] {
  const { runbook } = loaded;
  const { source, target } = runbook;
  const units: Unit[] = [];
  const raise = runbook.raiseFloor ?? RAISE_FLOOR_DEFAULTS;
  const floorWithinMs = durationMs(raise.healthyWithin ?? RAISE_FLOOR_DEFAULTS.healthyWithin);
  /** A weight change's floors and its calls: each floor's first, then the weights'. */
  const moveTo = (to: Weights) => {
    const floors = raise.enabled === false ? [] : receivingFloors(loaded.stacksDir, weights, to);
    return {
      weights: to,
      floors,
      floorWithinMs,
      commands: [
        ...floors.flatMap((f) => minHostsArgs(f.stack, f.minHosts)),
        ...weightChangeArgs(loaded, to),
      ],
    };
  };
  // From the start of the move: the stack file's own weights change as the migration goes.
  let weights = shiftedWeights(loaded.traffic.weights, source, target, 0);
  const add = (unit: WithoutId<Unit>) =>
    units.push({ ...unit, id: String(units.length + 1) } as Unit);
  runbook.steps.forEach((step, index) => {
    switch (step.kind) {
      case "preflight":
        add({
          kind: "preflight",
          step: index,
          title: step.name ?? `preflight: stacks deployed, policies pass, ${target} healthy`,
          commands: [
            ...[runbook.traffic, source, target].map(pulumiArgs.outputs),
            pulumiArgs.policies(target),
          ],
        });
        break;
      case "scale":
        add({
          kind: "scale",
          step: index,
          stack: target,
          minHosts: step.minHosts,
          healthyWithinMs: durationMs(step.healthyWithin),
          title: step.name ?? `scale ${target} to at least ${step.minHosts} hosts`,
          commands: minHostsArgs(target, step.minHosts),
        });
        break;
      case "shift": {
        const bakeMs = durationMs(step.bake);
        for (const w of step.weights) {
          const move = moveTo(shiftedWeights(weights, source, target, w));
          weights = move.weights;
          add({
            kind: "shift",
            step: index,
            ...move,
            bakeMs,
            maxBakeMs: step.maxBake ? durationMs(step.maxBake) : 2 * bakeMs,
            intervalMs: durationMs(step.interval),
            gates: step.gates,
            title: `${step.name ? `${step.name}: ` : ""}shift ${target} to ${w} %, bake ${step.bake}`,
          });
        }
        break;
      }
      case "drain": {
        const move = moveTo({
          ...weights,
          [target]: weights[target] + weights[source],
          [source]: 0,
        });
        weights = move.weights;
        add({
          kind: "drain",
          step: index,
          ...move,
          belowSessions: step.belowSessions,
          maxWaitMs: durationMs(step.maxWait),
          intervalMs: durationMs(step.interval),
          title:
            step.name ??
            `drain ${source}: weight 0, until < ${step.belowSessions} sessions or ${step.maxWait}`,
        });
        break;
      }
      case "approve":
        add({
          kind: "approve",
          step: index,
          reason: step.reason ?? "continue",
          expiresAfterMs: durationMs(step.expiresAfter ?? runbook.approvalsExpireAfter),
          title: step.name ?? `approval: ${step.reason ?? "continue"}`,
          commands: [],
        });
        break;
      case "decommission":
        add({
          kind: "decommission",
          step: index,
          stack: source,
          title: step.name ?? `decommission ${source}: retire its hosts`,
          commands: [pulumiArgs.outputs(source), pulumiArgs.destroy(source)],
        });
        break;
      case "wait":
        add({
          kind: "wait",
          step: index,
          ms: durationMs(step.duration),
          title: step.name ?? `wait ${step.duration}`,
          commands: [],
        });
        break;
    }
  });
  return units;
}
