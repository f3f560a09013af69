/**
 * What each host of a bare-metal site runs after an `up`, decided from the release the program
 * renders now and where the stack's rollout stands (`avfleet:rollout`). Without a rollout of
 * this very release an `up` only records it: every existing host keeps what it runs, and only a
 * host the `up` creates gets it. With one, the batches the rollout reached run the release, the
 * batch draining now gets a drain request and leaves DNS, and every other host runs what it ran
 * before, by the sha256 of its class's payload. Pure.
 */
import { createHash } from "node:crypto";
import type { RolloutConfig } from "../config/rollout";
import { assertNoFileProblems } from "../inputs/problems";
import { planBatches, type BatchLimits, type RolloutBatches } from "./batches";

/** A provisioned host (retired ones get nothing). */
export interface ReleaseHost {
  name: string;
  /** Its failure domain: the rack. */
  domain: string;
  class: string;
  state: "active" | "draining";
}

/** What one host is handed. */
export type HostIntent =
  | {
      run: "payload";
      /** The sha256 of the payload it runs. */
      sha: string;
      /**
       * An existing host keeps what its state holds (ignoreChanges on what carries the
       * payload); a host this `up` creates gets `sha`.
       */
      keep: boolean;
    }
  /** A drain request for its agent, and no DNS record. */
  | { run: "drain" };

/** The stack output `release`: what the program renders now and where the rollout stands. */
export interface ReleaseOutput {
  rendered: string;
  classes: Record<string, string>;
  rollout?: {
    release: string;
    updated: number;
    draining: number;
    target: RolloutConfig["target"];
    /** Batches, the canary included. */
    batches: number;
  };
}

export interface ReleaseIntent {
  output: ReleaseOutput;
  hosts: Map<string, HostIntent>;
}

const hex12 = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 12);

/** `r-` and 12 hex digits of the sha256 of each active class's `class=sha` line, sorted. */
export function releaseId(classes: Record<string, string>): string {
  const lines = Object.entries(classes)
    .map(([name, sha]) => `${name}=${sha}\n`)
    .sort();
  return `r-${hex12(lines.join(""))}`;
}

/** 12 hex digits of the sha256 of the batches as JSON: a different plan, a different hash. */
export function planHash(plan: RolloutBatches): string {
  return hex12(JSON.stringify(plan));
}

/** The batch each host is in: the canary is 0, `batches[i]` is i + 1. */
function batchOf(plan: RolloutBatches): Map<string, number> {
  return new Map([
    ...plan.canary.map((name) => [name, 0] as const),
    ...plan.batches.flatMap((batch, i) => batch.map((name) => [name, i + 1] as const)),
  ]);
}

export function releaseIntent(args: {
  /** The stack file, for the error that names `config.avfleet:rollout.plan`. */
  file: string;
  /** Each class with an active host → the sha256 of the payload its hosts get now. */
  classes: Record<string, string>;
  hosts: ReleaseHost[];
  rollout?: RolloutConfig;
}): ReleaseIntent {
  const { file, classes, hosts, rollout } = args;
  const rendered = releaseId(classes);
  const output: ReleaseOutput = { rendered, classes };
  const intents = new Map<string, HostIntent>();
  const rolling = rollout?.release === rendered;
  let batch = new Map<string, number>();
  if (rollout) {
    const limits: BatchLimits = {
      canaryShare: rollout.canaryShare,
      maxUnavailable: rollout.maxUnavailable as BatchLimits["maxUnavailable"],
      domainsAtOnce: rollout.domainsAtOnce,
    };
    const plan = planBatches(
      hosts.filter((h) => h.state === "active"),
      limits,
    );
    output.rollout = {
      release: rollout.release,
      updated: rollout.updated,
      draining: rollout.draining,
      target: rollout.target,
      batches: plan.batches.length + (plan.canary.length > 0 ? 1 : 0),
    };
    if (rolling && planHash(plan) !== rollout.plan) {
      assertNoFileProblems([
        {
          file,
          path: ["config", "avfleet:rollout", "plan"],
          message: `is ${rollout.plan}, but the inventory's active hosts and the rollout's limits make plan ${planHash(plan)}: the site changed during the rollout of ${rendered}`,
          expected:
            "the plan the rollout started with: finish or roll back the rollout before adding, draining or retiring hosts",
        },
      ]);
    }
    if (rolling) batch = batchOf(plan);
  }
  for (const host of hosts) {
    const index = batch.get(host.name);
    if (host.state === "draining" || (index !== undefined && index === rollout!.draining)) {
      intents.set(host.name, { run: "drain" });
    } else if (index === undefined) {
      intents.set(host.name, { run: "payload", sha: classes[host.class], keep: true });
    } else if (index < rollout!.updated) {
      intents.set(host.name, { run: "payload", sha: classes[host.class], keep: false });
    } else {
      const before = rollout!.from.classes?.[host.class];
      // A class the rollout has no sha for (the first release after payloads were inline, or
      // a class new in this release): its existing hosts keep what they run.
      intents.set(
        host.name,
        before
          ? { run: "payload", sha: before, keep: false }
          : { run: "payload", sha: classes[host.class], keep: true },
      );
    }
  }
  return { output, hosts: intents };
}
