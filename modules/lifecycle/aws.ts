/**
 * An AWS pool as EC2 Auto Scaling runs it: terminations through deregistration and the drain
 * hook, the hook's timeouts, AZRebalance, instance refresh, the group's health checks and the
 * Network Load Balancer's handling of connections, read from the pool's rendered resources and
 * applied by the rules of modules/providers/aws.
 */
import * as aws from "../providers/aws";
import { TERMINATION_ENV } from "../../policy/contract/rules";
import { IGNORE_CHANGES, ignoredBy } from "../providers/replacement";
import { agent, crash, firstBootSec, type Complete } from "./host";
import type { Platform } from "./platform";
import { inputsOf, resourceOf, type RenderedPool } from "./rendered";
import type { SimHost, World } from "./world";

const GROUP = "aws:autoscaling/group:Group";
const HOOK = "aws:autoscaling/lifecycleHook:LifecycleHook";
/** Seconds EC2 takes to shut down an instance with nothing left to wait for. */
const SHUTDOWN_SEC = 10;

interface Hook {
  heartbeatTimeout: number;
  defaultResult: string;
}

export interface AwsFacts {
  group: Record<string, any>;
  /** The group's custom termination policy's settings, when its function comes first. */
  termination?: { maxCutPerHost: number };
  drainHook?: Hook;
  launchHook?: Hook;
  targetGroup: Record<string, any>;
  zones: string[];
}

export function awsFacts(pool: RenderedPool): AwsFacts {
  const hooks = pool.resources.filter((r) => r.type === HOOK).map((r) => r.inputs);
  const hook = (transition: string) =>
    hooks.find((h) => h.lifecycleTransition === transition) as Hook | undefined;
  const group = inputsOf(pool, GROUP) ?? {};
  const fn = pool.resources.find(
    (r) =>
      r.type === "aws:lambda/function:Function" &&
      r.inputs.environment?.variables?.[TERMINATION_ENV] !== undefined,
  );
  return {
    group,
    ...(fn && aws.customTermination(group)
      ? { termination: JSON.parse(fn.inputs.environment.variables[TERMINATION_ENV]) }
      : {}),
    drainHook: hook("autoscaling:EC2_INSTANCE_TERMINATING"),
    launchHook: hook("autoscaling:EC2_INSTANCE_LAUNCHING"),
    targetGroup: inputsOf(pool, "aws:lb/targetGroup:TargetGroup") ?? {},
    zones: (group.vpcZoneIdentifiers as string[] | undefined)?.map((_, i) => `zone-${i + 1}`) ?? [
      "zone-1",
      "zone-2",
    ],
  };
}

/** The group's ignoreChanges, as the Plan recorded them. */
function groupIgnoreChanges(pool: RenderedPool): string[] {
  return resourceOf(pool, GROUP)?.ignoreChanges ?? [];
}

export function awsPlatform(pool: RenderedPool): Platform {
  const facts = awsFacts(pool);
  /** When each terminating instance's drain hook waits (after deregistration), and its beats. */
  const hooks = new Map<SimHost, { activeAt: number; lastBeat: number; agentBeat: number }>();
  /** Instances the group replaces for no need of theirs (balance, tags). */
  const churning = new Set<SimHost>();

  const launch = (w: World, zone: string, template = 1) =>
    w.addHost(zone, [], { upAt: w.t + firstBootSec(pool), template });

  /** The group terminates an instance: deregistration, then the drain hook, then EC2. */
  const terminate = (w: World, host: SimHost, why: string) => {
    if (hooks.has(host) || host.goneAt !== undefined) return;
    w.cite(aws.TERMINATION, true);
    const delay = w.cite(aws.NLB_DEREGISTRATION, aws.deregistrationDelaySec(facts.targetGroup));
    w.say(`${why}: ${host.name} deregistered (delay ${delay} s), then its drain hook`);
    if (churning.has(host)) w.outcome.churnedHosts++;
    // IMDS target-lifecycle-state reads Terminated from the start: the agent drains.
    host.drainRequested = "target lifecycle state Terminated";
    if (!facts.drainHook) {
      w.powerOff(host, w.t + delay + SHUTDOWN_SEC, "terminated (no drain hook)");
      return;
    }
    hooks.set(host, { activeAt: w.t + delay, lastBeat: w.t + delay, agentBeat: -Infinity });
  };

  const complete: Complete = (w, host) => {
    const hook = hooks.get(host);
    if (!hook) return true;
    if (w.t < hook.activeAt) {
      w.cite(aws.NO_ACTIVE_ACTION, true);
      // The agent's own reading of "No active Lifecycle Action" (agent-answers.py asks it).
      if (w.answers.lifecycle.drainCompleteDoneOnNoActive) {
        host.drain!.completedAt = w.t;
        w.say(`${host.name}: the agent took "No active Lifecycle Action" for done`);
      }
      return false;
    }
    w.powerOff(host, w.t + SHUTDOWN_SEC, "drain hook completed");
    return true;
  };

  /**
   * The rendered agent's heartbeats while calls remain, at its ticks, every drainHeartbeatSec
   * once the hook heard one (until it is active each is refused and asked again at the next
   * tick), and the hook's own timeout. A hook that times out on a host whose agent no longer
   * answers loses its calls to that fault.
   */
  const hookClock = (w: World) => {
    const every = w.pool.agent.drainHeartbeatSec ?? 0;
    for (const [host, hook] of hooks) {
      if (host.goneAt !== undefined || w.t < hook.activeAt) continue;
      const beating = host.drain && host.drain.completedAt === undefined && w.state(host);
      const tick = w.t % w.pool.agent.intervalSec === 0;
      if (beating && tick && w.sessions(host) > 0 && w.t - hook.agentBeat >= every) {
        hook.agentBeat = w.cite(aws.HOOK_HEARTBEAT, w.t);
        hook.lastBeat = w.t;
      }
      const release = w.cite(
        aws.HOOK_TIMEOUT,
        aws.hookReleasesAt(facts.drainHook!, hook.activeAt, hook.lastBeat),
      );
      if (w.t >= release) {
        w.accept(host);
        const dead = w.state(host) === undefined;
        w.powerOff(
          host,
          w.t + SHUTDOWN_SEC,
          `drain hook timed out (${facts.drainHook!.defaultResult}) ${w.t - hook.lastBeat} s after its last heartbeat${dead ? ", the agent dead" : ""}`,
          dead,
        );
      }
    }
  };

  /** ELB health checks: a draining (unhealthy) instance replaced (healthCheckType ELB). */
  const groupHealth = (w: World) => {
    if (!w.cite(aws.HEALTH_CHECK_TYPE, aws.replacesOnTargetHealth(facts.group))) return;
    for (const h of w.live()) {
      if (!hooks.has(h) && w.state(h) === "draining") {
        churning.add(h);
        terminate(w, h, "the group replaces an instance its target group calls unhealthy");
      }
    }
  };

  const refresh = (w: World, why: string, needed: boolean) => {
    if (!w.cite(aws.INSTANCE_REFRESH, facts.group.instanceRefresh !== undefined)) return;
    w.say(`instance refresh (${why}): every instance replaced, new ones first`);
    for (const h of w.live().filter((x) => x.template === 1)) {
      launch(w, h.zone, 2).upAt = w.t;
      if (!needed) churning.add(h);
      terminate(w, h, "instance refresh");
    }
  };

  return {
    zones: facts.zones,
    actors: [agent(complete), hookClock, groupHealth],
    scaleIn(w) {
      const candidates = w.live().filter((h) => !hooks.has(h));
      if (!w.cite(aws.CUSTOM_TERMINATION, facts.termination !== undefined)) {
        // terminationPolicies OldestLaunchTemplate, OldestInstance: the first launched.
        terminate(w, candidates[0], "scale-in");
        return;
      }
      // The pool's function (modules/aws-scale-in/termination.py): the oldest release first,
      // then the fewest calls expected at the drain limit; none over the budget, which waits.
      const left = (h: SimHost) => h.calls.filter((end) => end > w.t + w.drainSeconds).length;
      const order = [...candidates].sort((a, b) => a.template - b.template || left(a) - left(b));
      const newest = Math.max(...candidates.map((h) => h.template));
      const pick = order.find(
        (h) => h.template < newest || left(h) <= facts.termination!.maxCutPerHost,
      );
      if (!pick) {
        w.say(
          "scale-in: every candidate expects more calls at the limit than the budget; it waits",
        );
        return;
      }
      terminate(w, pick, `scale-in (${left(pick)} call(s) expected at the drain limit)`);
    },
    operatorDrain(w, host) {
      terminate(w, host, "terminate-instance-in-auto-scaling-group by an operator");
    },
    rolloutBatch(w, hosts) {
      for (const h of hosts) {
        w.cite(aws.TERMINATE_INSTANCE, true);
        terminate(w, h, "the rollout's terminate-instance-in-auto-scaling-group");
        // The desired capacity stays: the group launches a replacement at once, from the
        // version the up pointed it at.
        w.cite(aws.LAUNCH_TEMPLATE_VERSION, true);
        launch(w, h.zone, 2);
      }
    },
    templateChange(w) {
      const version = facts.group.launchTemplate?.version;
      const follows = w.cite(aws.LAUNCH_TEMPLATE_VERSION, aws.followsTemplate(version));
      const ignored = w.cite(
        IGNORE_CHANGES,
        ignoredBy("launchTemplate.version", groupIgnoreChanges(w.pool)),
      );
      if (!follows && ignored && facts.group.instanceRefresh === undefined) {
        w.say(
          "a new launch template version: the group keeps launching the version it ran (pinned, ignored by the up), no refresh is declared",
        );
        return;
      }
      refresh(w, "a new launch template version", true);
    },
    labelChange(w) {
      const lt = inputsOf(w.pool, "aws:ec2/launchTemplate:LaunchTemplate") ?? {};
      // Tags in the template's tagSpecifications are part of its version; the template's own tags are not.
      if (!w.cite(aws.INSTANCE_REFRESH, (lt.tagSpecifications ?? []).length > 0)) {
        w.say(
          "labels change: the launch template's version does not (instance tags come from the group)",
        );
        return;
      }
      refresh(w, "tags in the launch template's version", false);
    },
    zoneRecovered(w) {
      const [gone, ...rest] = facts.zones;
      for (const h of w.live().filter((x) => x.zone === gone)) {
        w.powerOff(h, w.t, "zone outage", true);
        launch(w, rest[0]).upAt = w.t;
      }
      const rebalance = w.cite(aws.AZ_REBALANCE, aws.rebalances(facts.group));
      w.say(`zone ${gone} is back empty: AZRebalance ${rebalance ? "runs" : "is suspended"}`);
      if (!rebalance) return;
      const even = Math.ceil(w.live().length / facts.zones.length);
      const over = facts.zones.flatMap((z) =>
        w
          .live()
          .filter((h) => h.zone === z)
          .slice(even),
      );
      for (const h of over) {
        launch(w, gone).upAt = w.t;
        churning.add(h);
        terminate(w, h, "AZRebalance");
      }
    },
    crash(w, host) {
      crash(w, host);
      // The impaired instance fails its status checks and the group replaces it.
      w.cite(aws.EC2_STATUS, true);
      host.upAt = Infinity;
      terminate(w, host, "EC2 status check failed");
      launch(w, host.zone);
    },
    scaleOutSlowBoot(w) {
      const h = launch(w, facts.zones[0]);
      const budget = facts.launchHook?.heartbeatTimeout ?? Infinity;
      w.cite(aws.HOOK_TIMEOUT, budget);
      w.say(
        `scale-out: ${h.name} boots in ${h.upAt - w.t} s; its launching hook waits ${budget} s`,
      );
      if (h.upAt - w.t > budget && facts.launchHook?.defaultResult === "ABANDON") {
        w.outcome.churnedHosts++;
        w.powerOff(h, w.t + budget, "launching hook abandoned");
      }
    },
    readinessLost(w, host) {
      host.untuned = true;
      const cuts = w.cite(aws.NLB_UNHEALTHY, aws.nlbCutsUnhealthy(facts.targetGroup));
      w.say(`${host.name}: readiness fails; the NLB ${cuts ? "closes" : "keeps"} its connections`);
      if (cuts) {
        w.outcome.callsCut += w.sessions(host);
        host.calls = host.calls.map((end) => Math.min(end, w.t));
      }
    },
  };
}
