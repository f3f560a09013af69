/**
 * What a placement's proposed stack files would break in the traffic splits and runbooks that
 * name their pools. Each proposed file passes its own checks (stacks.ts); this is the check
 * across files: a split turned geo-steered under a runbook that shifts it by weight, weights
 * that make a runbook's steps no-ops or one jump, a pool capped below the hosts a runbook
 * scales it to. Pure: the command reads the splits and runbooks with their own loaders.
 */
import type { TrafficSpec } from "../config/traffic";
import { routingOf } from "../config/traffic";
import type { FileProblem } from "../inputs/problems";
import { shiftedWeights, weightsOf, type Weights } from "../traffic/weights";

/** A proposed stack file: where it was written and what it holds. */
export interface ProposedStack {
  stack: string;
  file: string;
  proposed: { config: Record<string, unknown> };
}

/** A traffic split as it is today. */
export interface SplitToday {
  name: string;
  spec: TrafficSpec;
}

/** What the check reads of a runbook (modules/migrate's Runbook has these keys). */
export interface RunbookSteps {
  file: string;
  runbook: {
    traffic: string;
    source: string;
    target: string;
    steps: readonly { kind: string; minHosts?: number; weights?: readonly number[] }[];
  };
}

const TRAFFIC = ["config", "avfleet:traffic"];
const FLEET = ["config", "avfleet:fleet"];

type Found = { key: string; problem: Omit<FileProblem, "file"> };
/** A runbook weight the executor would pass over: the target is already above it. */
type Skip = { key: string; step: number; weight: number; at: number };

/**
 * The weights the executor would apply, step by step, starting from a split's weights — as
 * `migrate plan` computes them (modules/runbook/plan.ts, with the same shiftedWeights; a drain
 * gives the source's share to the target) and as it runs
 * them (modules/migrate/executor.ts `shift`: a step whose target weight is below the target's
 * current weight is skipped, "already at").
 */
function replay(
  runbook: RunbookSteps,
  start: Weights,
  maxStepPct: number,
): { jumps: Found[]; skips: Skip[] } {
  const { source, target, steps } = runbook.runbook;
  let planned = shiftedWeights(start, source, target, 0);
  let current = { ...start };
  const found: Found[] = [];
  const skips: Skip[] = [];
  const move = (to: Weights, path: (string | number)[], what: string) => {
    const jumps = Object.keys(to).filter(
      (p) => Math.abs((to[p] ?? 0) - (current[p] ?? 0)) > maxStepPct,
    );
    if (jumps.length > 0) {
      found.push({
        key: `jump ${path.join(".")}`,
        problem: {
          path,
          message: `${what} would move ${jumps.map((p) => `${p} from ${current[p] ?? 0} to ${to[p]}`).join(" and ")} at once`,
          expected: `steps of at most ${maxStepPct} points (maxStepPct of ${runbook.runbook.traffic})`,
        },
      });
    }
    current = { ...current, ...to };
  };
  steps.forEach((step, i) => {
    (step.kind === "shift" ? (step.weights ?? []) : []).forEach((w, j) => {
      planned = shiftedWeights(planned, source, target, w);
      if ((current[target] ?? 0) <= w) move(planned, ["steps", i, "weights", j], `weight ${w}`);
      else {
        skips.push({ key: `${i}.${j}`, step: i, weight: w, at: current[target] });
      }
    });
    if (step.kind === "drain") {
      planned = { ...planned, [target]: planned[target] + planned[source], [source]: 0 };
      move(planned, ["steps", i], "the drain");
    }
  });
  return { jumps: found, skips };
}

function trafficBreaks(
  change: ProposedStack,
  today: SplitToday | undefined,
  runbooks: RunbookSteps[],
): FileProblem[] {
  const spec = change.proposed.config["avfleet:traffic"] as TrafficSpec;
  const routing = routingOf(spec);
  const problems: FileProblem[] = [];
  const at = (file: string, problem: Omit<FileProblem, "file">) =>
    problems.push({ file, ...problem });
  const pools = spec.pools.map((p) => p.stack);
  if (today) {
    // The split's own step rule, which the pack's step policy holds at review too: no pool's
    // share of joins moves more than maxStepPct at once. A geo or latency record set carries
    // no weight, so a pool that takes no joins today would take every join nearest to it:
    // Route53 geoproximity "routes traffic to the closest resource that is available", moved
    // only by a bias (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-geoproximity.html);
    // Cloud DNS "Combining WRR and geolocation routing policies is not supported"
    // (https://docs.cloud.google.com/dns/docs/routing-policies-overview).
    const was = weightsOf(today.spec);
    const jump = (pool: string, from: number, to: string) =>
      `${to} (${pool} has weight ${from} in ${today.name} today)`;
    spec.pools.forEach((pool, k) => {
      const from = was[pool.stack] ?? 0;
      const geo = routing !== "weighted" && pool.weight > 0 && from === 0;
      if (geo || (routing === "weighted" && Math.abs(pool.weight - from) > spec.maxStepPct)) {
        at(change.file, {
          path: [...TRAFFIC, "pools", k],
          message: geo
            ? jump(
                pool.stack,
                from,
                `puts ${pool.stack} in a ${routing} record set, which would send it every join nearest to it at once`,
              )
            : jump(pool.stack, from, `moves ${pool.stack} to weight ${pool.weight} at once`),
          expected: `a move of at most ${spec.maxStepPct} points (maxStepPct): a runbook moves it by weight first`,
        });
      }
    });
    for (const [pool, from] of Object.entries(was)) {
      if (from > spec.maxStepPct && !pools.includes(pool)) {
        at(change.file, {
          path: [...TRAFFIC, "pools"],
          message: jump(pool, from, `drops ${pool}, whose joins would all move at once`),
          expected: `a move of at most ${spec.maxStepPct} points (maxStepPct): a runbook moves it by weight first`,
        });
      }
    }
  }
  for (const { file, runbook } of runbooks.filter((r) => r.runbook.traffic === change.stack)) {
    if (routing !== "weighted") {
      at(change.file, {
        path: [...TRAFFIC, "dns", "routing"],
        message: `is ${routing}, but ${file} shifts ${runbook.source} → ${runbook.target} by weight, which a ${routing} record set does not have`,
        expected: `weighted while ${file} runs`,
      });
    }
    for (const [role, pool] of [
      ["source", runbook.source],
      ["target", runbook.target],
    ] as const) {
      if (!pools.includes(pool)) {
        at(change.file, {
          path: [...TRAFFIC, "pools"],
          message: `drops ${pool}, the ${role} of ${file}`,
          expected: `${pool} kept as a pool while ${file} runs`,
        });
      }
    }
    const proposed = replay({ file, runbook }, weightsOf(spec), spec.maxStepPct);
    const before = today
      ? replay({ file, runbook }, weightsOf(today.spec), today.spec.maxStepPct)
      : { jumps: [], skips: [] };
    const isNew = (key: string, old: { key: string }[]) => !old.some((o) => o.key === key);
    const found = proposed.jumps.filter((j) => isNew(j.key, before.jumps)).map((j) => j.problem);
    const skips = proposed.skips.filter((s) => isNew(s.key, before.skips));
    for (const step of new Set(skips.map((s) => s.step))) {
      const here = skips.filter((s) => s.step === step);
      found.push({
        path: ["steps", step, "weights"],
        message: `${here.map((s) => s.weight).join(", ")} would be skipped as "already at": ${runbook.traffic} would start with ${runbook.target} at ${here[0].at}`,
        expected: `${runbook.target} below the runbook's weights when it starts`,
      });
    }
    // In the runbook's step order, as `migrate plan` lists the steps.
    found.sort((a, b) => Number(a.path[1]) - Number(b.path[1]));
    for (const problem of found) at(file, problem);
  }
  return problems;
}

function fleetBreaks(change: ProposedStack, runbooks: RunbookSteps[]): FileProblem[] {
  const fleet = change.proposed.config["avfleet:fleet"] as { maxHosts?: number };
  if (fleet.maxHosts === undefined) return [];
  return runbooks.flatMap(({ file, runbook }) =>
    runbook.target !== change.stack
      ? []
      : runbook.steps.flatMap((step, i) =>
          step.kind === "scale" && step.minHosts! > fleet.maxHosts!
            ? [
                {
                  file: change.file,
                  path: [...FLEET, "maxHosts"],
                  message: `is ${fleet.maxHosts}, below the ${step.minHosts} hosts ${file} steps[${i}] scales ${change.stack} to before traffic moves`,
                  expected: `at least ${step.minHosts} while ${file} runs`,
                },
              ]
            : [],
        ),
  );
}

/**
 * Everything the proposed files would break in today's splits and the runbooks: each problem
 * names the file (the proposed stack file or the runbook), the key and why.
 */
export function proposalBreaks(
  changes: ProposedStack[],
  splits: SplitToday[],
  runbooks: RunbookSteps[],
): FileProblem[] {
  return changes.flatMap((change) =>
    change.proposed.config["avfleet:traffic"] !== undefined
      ? trafficBreaks(
          change,
          splits.find((s) => s.name === change.stack),
          runbooks,
        )
      : change.proposed.config["avfleet:fleet"] !== undefined
        ? fleetBreaks(change, runbooks)
        : [],
  );
}
