/**
 * The scenario matrix: each way a host leaves, fails, updates or scales, on each platform it
 * applies to, run against every pool of the estate as rendered, through the providers' rules.
 * Each scenario reports calls cut before their drain limit, hosts churned and seconds past the
 * limit; the rules it consulted are its citations.
 */
import { isDeepStrictEqual } from "node:util";
import { FORCE_NEW, IGNORE_CHANGES, forcesReplacement } from "../providers/replacement";
import { agentAnswers } from "./agent";
import { awsPlatform } from "./aws";
import { gcpPlatform } from "./gcp";
import { hangAgent, killAgent, rebootInGuest, seed } from "./host";
import { metalPlatform } from "./metal";
import type { Platform } from "./platform";
import type { RenderedPool, RenderedResource } from "./rendered";
import { at, World, type Actor, type Outcome } from "./world";

export type Kind = RenderedPool["kind"];
type Variant = "container" | "longDrain" | "fourHourDrain";

/** A pool of the estate as rendered, with the variants some scenarios need. */
export interface PoolRenderings {
  base: RenderedPool;
  /** The same pool with a container workload (a longer first boot, another launch hook). */
  container?: RenderedPool;
  /** The same pool with a two-hour drain limit. */
  longDrain?: RenderedPool;
  /**
   * The same pool with a four-hour drain limit: on AWS past the hook's longest heartbeatTimeout,
   * on GCP and bare metal past the two hours they took before #28.
   */
  fourHourDrain?: RenderedPool;
}

export interface Scenario {
  id: string;
  title: string;
  kinds: Kind[];
  /** Which rendering the scenario runs on. */
  rendering?: Variant;
  /** A variant it compares the rendering with (and so needs). */
  compares?: Variant;
  /** What the scenario does, at which second; the platform's actors run throughout. */
  events(platform: Platform, pools: PoolRenderings): Actor[];
}

/** The host with the quiet calls (all end within two minutes) and a busy one. */
const QUIET = 5;
const BUSY = 1;
const START = 60;

const hostAt = (i: number) => (w: World) => w.hosts[i];
const need = <T>(f: T | undefined, what: string): T => {
  if (!f) throw new Error(`scenario needs the platform's ${what}`);
  return f;
};

/** Host-holding resources: replacing one removes every host in it. */
const HOST_GROUPS = [
  "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",
  "aws:autoscaling/group:Group",
];

/**
 * What the next `up` does to the pool's hosts when its rendering goes from `before` to `after`:
 * the host groups it replaces (their hosts go with them, before the new group exists: the
 * ASG's name is fixed, and its hooks, which depend on it, are replaced first).
 */
export function replacedGroups(
  w: World,
  before: RenderedResource[],
  after: RenderedResource[],
): string[] {
  const replaced: string[] = [];
  for (const next of after.filter((r) => HOST_GROUPS.includes(r.type))) {
    const prev = before.find((r) => r.name === next.name && r.type === next.type);
    if (!prev) continue;
    const keys = new Set([...Object.keys(prev.inputs), ...Object.keys(next.inputs)]);
    const changed = [...keys].filter((k) => !isDeepStrictEqual(prev.inputs[k], next.inputs[k]));
    if (changed.some((k) => next.ignoreChanges?.includes(k))) w.cite(IGNORE_CHANGES, true);
    const forcing = changed.filter((k) => forcesReplacement(next.type, k, next.ignoreChanges));
    if (w.cite(FORCE_NEW, forcing.length > 0))
      replaced.push(`${next.name} (${forcing.join(", ")})`);
  }
  return replaced;
}

/** As four-hour-drain-marked on GCP, and `what` happens `after` seconds into the drain. */
function duringFourHourDrain(
  id: string,
  what: string,
  after: number,
  act: (p: Platform, w: World) => void,
): Scenario {
  return {
    id,
    title: `as four-hour-drain-marked, and ${what}`,
    kinds: ["gcp"],
    rendering: "fourHourDrain",
    events: (p) => [
      at(START, (w) => need(p.operatorDrain, "drain")(w, hostAt(0)(w))),
      at(START + after, (w) => act(p, w)),
    ],
  };
}

export const SCENARIOS: Scenario[] = [
  {
    id: "scale-in",
    title: "the pool scales in by one host",
    kinds: ["gcp", "aws"],
    events: (p) => [at(START, (w) => need(p.scaleIn, "scale-in")(w))],
  },
  {
    id: "autohealing-during-drain",
    title: "health checks probe a host while it drains",
    kinds: ["gcp", "aws"],
    events: (p) => [at(START, (w) => need(p.operatorDrain, "drain")(w, hostAt(BUSY)(w)))],
  },
  {
    id: "zone-rebalance",
    title: "a zone's hosts come back after an outage",
    kinds: ["gcp", "aws"],
    events: (p) => [at(START, (w) => need(p.zoneRecovered, "zones")(w))],
  },
  {
    id: "template-rollout",
    title: "a new template (media server, agent, tuning)",
    kinds: ["gcp", "aws"],
    events: (p) => [at(START, (w) => need(p.templateChange, "templates")(w))],
  },
  {
    id: "release-rollout",
    title: "a release's rollout drains a batch (a busy and a quiet host) and replaces it",
    kinds: ["gcp", "aws"],
    events: (p) => [
      at(START, (w) => need(p.rolloutBatch, "rollouts")(w, [hostAt(BUSY)(w), hostAt(QUIET)(w)])),
    ],
  },
  {
    id: "label-change",
    title: "a label or tag changes, nothing else",
    kinds: ["gcp", "aws"],
    events: (p) => [at(START, (w) => need(p.labelChange, "labels")(w))],
  },
  {
    id: "hook-change",
    title: "the pool switches to a container image (boot time, launching hook)",
    kinds: ["gcp", "aws"],
    compares: "container",
    events: (p, pools) => [
      at(START, (w) => {
        const after = need(pools.container, "container rendering");
        const replaced = replacedGroups(w, pools.base.resources, after.resources);
        w.say(
          `up of the change replaces ${replaced.length ? replaced.join("; ") : "no host group"}`,
        );
        if (replaced.length) {
          for (const h of w.live()) {
            w.outcome.churnedHosts++;
            w.powerOff(h, w.t, "its group was deleted before its replacement");
          }
        } else need(p.templateChange, "templates")(w);
      }),
    ],
  },
  {
    id: "host-crash",
    title: "a host crashes",
    kinds: ["gcp", "aws", "metal"],
    events: (p) => [at(300, (w) => need(p.crash, "crash")(w, hostAt(0)(w)))],
  },
  {
    id: "agent-crash",
    title: "the agent is killed (kill -9), once serving and once draining",
    kinds: ["gcp", "aws", "metal"],
    events: (p) => [
      at(300, (w) => killAgent(w, hostAt(0)(w))),
      at(START, (w) => need(p.operatorDrain, "drain")(w, hostAt(BUSY)(w))),
      at(400, (w) => killAgent(w, hostAt(BUSY)(w))),
    ],
  },
  {
    id: "slow-first-boot",
    title: "a new host's first boot pulls its image (slower than a package)",
    kinds: ["gcp", "aws"],
    rendering: "container",
    events: (p) => [at(START, (w) => need(p.scaleOutSlowBoot, "scale-out")(w))],
  },
  {
    id: "operator-drain",
    title: "an operator drains a quiet host",
    kinds: ["gcp", "aws", "metal"],
    events: (p) => [at(START, (w) => need(p.operatorDrain, "drain")(w, hostAt(QUIET)(w)))],
  },
  {
    id: "reboot",
    title: "a host with calls is rebooted (systemctl reboot)",
    kinds: ["gcp", "aws", "metal"],
    events: () => [at(START, (w) => rebootInGuest(w, hostAt(0)(w)))],
  },
  {
    id: "long-call-reboot",
    title:
      "a host with a 2-hour call (2-hour drain) is rebooted: systemd's 30-minute shutdown limit",
    kinds: ["gcp", "aws", "metal"],
    rendering: "longDrain",
    events: () => [at(START, (w) => rebootInGuest(w, hostAt(0)(w)))],
  },
  {
    id: "long-call-scale-in",
    title: "the pool scales in with 2-hour calls and a 2-hour drain",
    kinds: ["gcp", "aws"],
    rendering: "longDrain",
    events: (p) => [at(START, (w) => need(p.scaleIn, "scale-in")(w))],
  },
  {
    id: "four-hour-drain",
    title: "the pool scales in a host with a 4-hour call and a 4-hour drain (the agent heartbeats)",
    kinds: ["aws"],
    rendering: "fourHourDrain",
    events: (p) => [at(START, (w) => need(p.scaleIn, "scale-in")(w))],
  },
  {
    id: "four-hour-drain-agent-hangs",
    title: "as four-hour-drain, and the agent hangs for good 50 minutes into the drain",
    kinds: ["aws"],
    rendering: "fourHourDrain",
    events: (p) => [
      at(START, (w) => need(p.scaleIn, "scale-in")(w)),
      at(START + 3000, (w) => hangAgent(w, hostAt(0)(w))),
    ],
  },
  {
    id: "four-hour-drain-marked",
    title:
      "a host with a 4-hour call is marked to drain (4-hour limit): it goes once the call ends",
    kinds: ["gcp", "metal"],
    rendering: "fourHourDrain",
    events: (p) => [at(START, (w) => need(p.operatorDrain, "drain")(w, hostAt(0)(w)))],
  },
  duringFourHourDrain(
    "four-hour-drain-maintenance",
    "the provider maintains its machine an hour in",
    3600,
    (p, w) => need(p.hostMaintenance, "maintenance")(w, hostAt(0)(w)),
  ),
  duringFourHourDrain("four-hour-drain-template", "a new template two hours in", 7200, (p, w) =>
    need(p.templateChange, "templates")(w),
  ),
  duringFourHourDrain(
    "four-hour-drain-reclaim",
    "the provider's run limits three hours in (Spot, max run)",
    10_800,
    (p, w) => need(p.reclaim, "run limits")(w, hostAt(0)(w)),
  ),
  {
    id: "four-hour-drain-rollout",
    title: "a release's rollout drains a batch with a 4-hour call (4-hour limit) and replaces it",
    kinds: ["gcp", "aws"],
    rendering: "fourHourDrain",
    events: (p) => [
      at(START, (w) => need(p.rolloutBatch, "rollouts")(w, [hostAt(0)(w), hostAt(QUIET)(w)])),
    ],
  },
  {
    id: "four-hour-call-reboot",
    title: "a host with a 4-hour call (4-hour drain) is rebooted: the shutdown waits for it",
    kinds: ["gcp", "aws", "metal"],
    rendering: "fourHourDrain",
    events: () => [at(START, (w) => rebootInGuest(w, hostAt(0)(w)))],
  },
  {
    id: "host-maintenance",
    title: "the provider maintains a host's machine",
    kinds: ["gcp"],
    events: (p) => [at(START, (w) => need(p.hostMaintenance, "maintenance")(w, hostAt(0)(w)))],
  },
  {
    id: "readiness-lost",
    title: "a serving host's readiness fails (tuning drift)",
    kinds: ["gcp", "aws"],
    events: (p) => [at(START, (w) => need(p.readinessLost, "readiness")(w, hostAt(BUSY)(w)))],
  },
];

export const PLATFORMS: Record<Kind, (pool: RenderedPool) => Platform> = {
  gcp: gcpPlatform,
  aws: awsPlatform,
  metal: metalPlatform,
};

export interface ScenarioResult extends Outcome {
  scenario: string;
  kind: Kind;
  pool: string;
  rules: string[];
}

/** Long enough for every drain to end and every hook to time out. */
function horizon(pool: RenderedPool): number {
  return START + pool.agent.drainSeconds + 3600;
}

/** One scenario on one pool. */
export function runScenario(scenario: Scenario, pools: PoolRenderings): ScenarioResult {
  const pool = scenario.rendering
    ? need(pools[scenario.rendering], scenario.rendering)
    : pools.base;
  const platform = PLATFORMS[pool.kind](pool);
  const w = new World(pool, agentAnswers(pool));
  // Six hosts over the pool's zones, one with a call longer than the drain limit.
  const zones = Array.from({ length: 3 }, (_, i) => platform.zones[i % platform.zones.length]);
  seed(w, zones, pool.agent.drainSeconds > 3600 ? pool.agent.drainSeconds : 2400);
  const outcome = w.run(horizon(pool), [...scenario.events(platform, pools), ...platform.actors]);
  return {
    scenario: scenario.id,
    kind: pool.kind,
    pool: pool.pool,
    ...outcome,
    rules: [...w.citations.used].sort(),
  };
}

/** Whether the scenario can run on these renderings of a pool. */
export function applies(s: Scenario, pools: PoolRenderings): boolean {
  return (
    s.kinds.includes(pools.base.kind) &&
    (!s.rendering || pools[s.rendering] !== undefined) &&
    (!s.compares || pools[s.compares] !== undefined)
  );
}

/** Every scenario on every pool it applies to. */
export function runMatrix(estate: PoolRenderings[]): ScenarioResult[] {
  return SCENARIOS.flatMap((s) =>
    estate.filter((p) => applies(s, p)).map((p) => runScenario(s, p)),
  );
}
