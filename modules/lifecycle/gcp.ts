/**
 * A GCP pool as Compute Engine runs it: the MIG's autohealer, autoscaler, update policy and
 * redistribution, the scale-in controller when the stack declares one, and the VM's stop limit,
 * all read from the pool's rendered resources and applied by the rules of modules/providers/gcp.
 */
import * as gcp from "../providers/gcp";
import { IGNORE_CHANGES, ignoredBy } from "../providers/replacement";
import { agent, crash, firstBootSec, rebootSec, type Complete } from "./host";
import type { Platform } from "./platform";
import { byId, inputsOf, resourceOf, type RenderedPool } from "./rendered";
import { every, type SimHost, type World } from "./world";

const MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager";
const CONTROLLER_ENV = "AVFLEET_SCALE_IN";
/** Cloud Scheduler calls the controller once a minute. */
const CONTROLLER_PERIOD_SEC = 60;
/** How often a rollout reads its batch's guest attributes (a scenario assumption). */
const ROLLOUT_POLL_SEC = 30;
/**
 * How long past the drain limit the controller keeps a mark whose agent never said done
 * (modules/gcp-scale-in/controller.py EXPIRY_MARGIN_SEC); a rollout's, twice the limit and this.
 */
const CONTROLLER_EXPIRY_MARGIN_SEC = 300;
const TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate";

export interface GcpFacts {
  autohealing: gcp.AutohealingSettings & { path: string };
  updatePolicy: { type?: string; minimalAction?: string; instanceRedistributionType?: string };
  autoscalerMode?: string;
  /** The scale-in controller's settings (its function's environment), when one is declared. */
  controller?: { drainSeconds: number };
  /** What the VMs are created with: machine type, scheduling, accelerators. */
  template: Record<string, any>;
  backend: Record<string, any>;
  zones: string[];
}

export function gcpFacts(pool: RenderedPool): GcpFacts {
  const mig = inputsOf(pool, MIG) ?? {};
  const policy = mig.autoHealingPolicies ?? {};
  const check = policy.healthCheck ? byId(pool, String(policy.healthCheck))?.inputs : undefined;
  const fn = pool.resources.find(
    (r) =>
      r.type === "gcp:cloudfunctionsv2/function:Function" &&
      r.inputs.serviceConfig?.environmentVariables?.[CONTROLLER_ENV] !== undefined,
  );
  return {
    autohealing: {
      initialDelaySec: policy.initialDelaySec ?? 0,
      checkIntervalSec: check?.checkIntervalSec ?? 5,
      unhealthyThreshold: check?.unhealthyThreshold ?? 2,
      actionOnFailure: mig.instanceLifecyclePolicy?.defaultActionOnFailure ?? "REPAIR",
      // No autohealing policy: nothing probes.
      path: check?.httpHealthCheck?.requestPath ?? (check ? "/" : ""),
    },
    updatePolicy: mig.updatePolicy ?? {},
    autoscalerMode: inputsOf(pool, "gcp:compute/regionAutoscaler:RegionAutoscaler")
      ?.autoscalingPolicy?.mode,
    controller: fn && JSON.parse(fn.inputs.serviceConfig.environmentVariables[CONTROLLER_ENV]),
    template: inputsOf(pool, TEMPLATE) ?? {},
    backend: inputsOf(pool, "gcp:compute/regionBackendService:RegionBackendService") ?? {},
    zones: mig.distributionPolicyZones ?? ["zone-a", "zone-b", "zone-c"],
  };
}

/** How the pool's agent's finished drain reaches the platform, from the agent's own calls. */
function completion(w: World): "self-delete" | "guest-attribute" | "none" {
  const calls = w.answers.lifecycle.completeCalls ?? [];
  if (calls.some(([, url]) => url.includes("/deleteInstances"))) return "self-delete";
  if (calls.some(([, url]) => url.includes("/guest-attributes/"))) return "guest-attribute";
  return "none";
}

export function gcpPlatform(pool: RenderedPool): Platform {
  const facts = gcpFacts(pool);
  const failures = new Map<SimHost, number>();
  /** The size the autoscaler recommends; the controller drains hosts down to it. */
  let recommended: number | undefined;
  /** When each host was marked to drain: the controller's marks expire from then. */
  const marked = new Map<SimHost, number>();
  const mark = (w: World, host: SimHost, why: string) => {
    host.drainRequested = why;
    marked.set(host, w.t);
  };

  /** The MIG deletes a VM: the guest gets the stop limit, no graceful shutdown. */
  const migDeletes = (w: World, host: SimHost, why: string) => {
    w.cite(gcp.GRACEFUL_SHUTDOWN, true);
    w.powerOff(host, w.t + w.cite(gcp.STOP_LIMIT, gcp.migDeletionLimitSec()), why);
  };
  /** A new VM from the template, serving after its first boot. */
  const create = (w: World, zone: string, template = 1) =>
    w.addHost(zone, [], { upAt: w.t + firstBootSec(pool), template });

  const complete: Complete = (w, host) => {
    const path = completion(w);
    if (path === "self-delete") {
      migDeletes(w, host, "the agent removed its VM from the MIG");
      return true;
    }
    // The controller deletes it at its next pass; the agent has said what it can.
    if (path === "guest-attribute") host.drain!.completedAt = w.t;
    return false;
  };

  const autohealer = every(facts.autohealing.checkIntervalSec, (w) => {
    if (!facts.autohealing.path) return;
    for (const h of w.live()) {
      const ok = w.probe(h, facts.autohealing.path) === 200;
      const n = ok ? 0 : (failures.get(h) ?? 0) + 1;
      failures.set(h, n);
      if (
        !w.cite(gcp.AUTOHEALING, gcp.autohealingRepairs(facts.autohealing, n, w.t - h.createdAt))
      ) {
        continue;
      }
      if (!h.failed) w.outcome.churnedHosts++;
      w.say(`autohealing: ${h.name} failed ${n} probes of ${facts.autohealing.path}: repaired`);
      migDeletes(w, h, "autohealing repair");
      create(w, h.zone, h.template);
    }
  });

  const controller = every(CONTROLLER_PERIOD_SEC, (w) => {
    const settings = facts.controller;
    if (!settings) return;
    for (const h of w.live()) {
      const at = marked.get(h);
      if (at === undefined) continue;
      // A host drained for a rollout is the rollout's to recreate until twice the limit
      // (modules/gcp-scale-in/controller.py expired_marks, to_delete).
      const limit = (h.drainFor ? 2 : 1) * settings.drainSeconds + CONTROLLER_EXPIRY_MARGIN_SEC;
      const expired = w.t - at >= limit;
      if (expired || (!h.drainFor && h.drain?.completedAt !== undefined)) {
        w.accept(h);
        migDeletes(
          w,
          h,
          expired
            ? `the controller deleted its VM, marked ${limit} s ago`
            : "the controller deleted its drained VM",
        );
      }
    }
    const serving = w.live().filter((h) => !h.drain && !h.drainRequested);
    if (recommended === undefined || serving.length <= recommended) return;
    const pick = [...serving].sort((a, b) => w.sessions(a) - w.sessions(b))[0];
    mark(w, pick, "marked by the scale-in controller");
    w.say(`controller: ${pick.name} marked to drain (${w.sessions(pick)} call(s))`);
  });

  /**
   * The rollout recreates each host of its batch once its guest attribute says done (or its
   * limit passed): the MIG deletes it (the stop limit, its calls already ended) and creates it
   * again from the template the up pointed the MIG at.
   */
  const rolling = new Set<SimHost>();
  const rollout = every(ROLLOUT_POLL_SEC, (w) => {
    for (const h of [...rolling]) {
      const drain = h.drain;
      const done = w.cite(gcp.GUEST_ATTRIBUTES, drain?.completedAt !== undefined);
      if (!done && !(drain && w.t >= drain.deadline + ROLLOUT_POLL_SEC)) continue;
      rolling.delete(h);
      w.accept(h);
      const wait = w.cite(gcp.RECREATE, gcp.recreateDrainWaitSec(facts.backend));
      w.powerOff(h, w.t + wait + gcp.STOP_LIMIT_SEC, "recreated by the rollout");
      create(w, h.zone, 2).createdAt = w.t + wait;
    }
  });

  const templateChange = (w: World) => {
    const action = w.cite(gcp.UPDATE_POLICY, gcp.onTemplateChange(facts.updatePolicy));
    const kept = resourceOf(
      w.pool,
      "gcp:compute/instanceTemplate:InstanceTemplate",
    )?.retainOnDelete;
    if (!w.cite(gcp.TEMPLATE_IN_USE, kept) && action === "none") {
      w.outcome.failedUps++;
      w.say("the up fails deleting the old template: running VMs still use it");
    }
    const migIgnores = resourceOf(w.pool, MIG)?.ignoreChanges ?? [];
    if (w.cite(IGNORE_CHANGES, ignoredBy("versions", migIgnores))) {
      w.say("template changes: the MIG keeps its versions (ignored by the up) until a rollout");
    }
    w.say(`template changes: the MIG's update policy says ${action} for running VMs`);
    if (action === "none") return;
    for (const h of w.live().filter((x) => x.template === 1)) {
      w.outcome.churnedHosts++;
      if (action === "replace") {
        migDeletes(w, h, "replaced by a proactive update");
        create(w, h.zone, 2);
      } else {
        // A restart stops the VM (stop limit) and boots it again: its calls are ended.
        w.powerOff(h, w.t + gcp.STOP_LIMIT_SEC, `${action}ed by a proactive update`);
        create(w, h.zone, 2);
      }
    }
  };

  return {
    zones: facts.zones,
    actors: [agent(complete), autohealer, controller, rollout],
    scaleIn(w) {
      recommended = w.live().length - 1;
      if (w.cite(gcp.AUTOSCALER_MODE, gcp.autoscalerDeletes(facts.autoscalerMode))) {
        // The MIG chooses; the busiest is the case to plan for.
        const pick = [...w.live()].sort((a, b) => w.sessions(b) - w.sessions(a))[0];
        w.say(`autoscaler (mode ${facts.autoscalerMode}) deletes ${pick.name}`);
        migDeletes(w, pick, "scale-in by the autoscaler");
      } else if (!facts.controller) {
        w.say(
          `autoscaler mode ${facts.autoscalerMode ?? "none"} and no controller: nothing scales in`,
        );
      }
    },
    operatorDrain(w, host) {
      mark(w, host, "avfleet-drain=true set by an operator");
    },
    rolloutBatch(w, hosts) {
      for (const h of hosts) {
        w.cite(gcp.ADD_METADATA, true);
        mark(w, h, "avfleet-drain=true with avfleet-drain-for, set by the rollout");
        h.drainFor = "the release";
        rolling.add(h);
      }
      w.say(`rollout: ${hosts.map((h) => h.name).join(", ")} marked to drain for the release`);
    },
    templateChange,
    // Labels are part of the template: a new template, as any change.
    labelChange: templateChange,
    zoneRecovered(w) {
      // The zone's VMs were recreated in the others while it was out; it is back, empty.
      const [gone, ...rest] = facts.zones;
      for (const h of w.live().filter((x) => x.zone === gone)) {
        w.powerOff(h, w.t, "zone outage", true);
        create(w, rest[0]).upAt = w.t;
      }
      const perZone = facts.zones.map((z) => w.live().filter((h) => h.zone === z).length);
      const excess = w.cite(
        gcp.REDISTRIBUTION,
        gcp.redistributionDeletes(facts.updatePolicy.instanceRedistributionType, perZone),
      );
      w.say(`zone ${gone} is back empty (${perZone.join("/")}): redistribution deletes ${excess}`);
      const even = Math.ceil(w.live().length / facts.zones.length);
      const over = facts.zones.flatMap((z) =>
        w
          .live()
          .filter((h) => h.zone === z)
          .slice(even),
      );
      for (const h of over.slice(0, excess)) {
        w.outcome.churnedHosts++;
        migDeletes(w, h, "proactive redistribution");
        create(w, gone);
      }
    },
    hostMaintenance(w, host) {
      w.cite(gcp.AUTOMATIC_RESTART, true);
      if (w.cite(gcp.LIVE_MIGRATION, gcp.liveMigrates(facts.template))) {
        w.say(`${host.name}: host maintenance: live-migrated, calls kept`);
        return;
      }
      w.outcome.churnedHosts++;
      w.powerOff(host, w.t + gcp.STOP_LIMIT_SEC, "stopped for host maintenance");
      create(w, host.zone, host.template);
    },
    reclaim(w, host) {
      const runs = w.cite(gcp.RUN_LIMIT, gcp.runsAtMostSec(facts.template.scheduling ?? {}));
      if (!Number.isFinite(runs)) {
        w.say(`${host.name}: a standard VM with no run limit: Compute Engine does not end it`);
        return;
      }
      // Preempted now, or stopped when its run time is up: the guest's 30 s either way.
      const at = Math.max(w.t, host.createdAt + runs) + gcp.PREEMPTION_SHUTDOWN_SEC;
      w.outcome.churnedHosts++;
      w.powerOff(host, at, `ended by Compute Engine (run limit ${runs} s)`);
      create(w, host.zone, host.template);
    },
    crash(w, host) {
      w.cite(gcp.AUTOMATIC_RESTART, true);
      w.cite(gcp.STARTUP_SCRIPT, rebootSec());
      crash(w, host);
    },
    scaleOutSlowBoot(w) {
      const h = create(w, facts.zones[0]);
      w.say(
        `scale-out: ${h.name} boots in ${h.upAt - w.t} s; autohealing's initial delay is ${facts.autohealing.initialDelaySec} s`,
      );
    },
    readinessLost(w, host) {
      host.untuned = true;
      const cuts = w.cite(gcp.PASSTHROUGH_NLB, gcp.passthroughCutsOnUnhealthy(facts.backend));
      w.say(
        `${host.name}: readiness fails; the balancer ${cuts ? "moves" : "keeps"} its connections`,
      );
      if (cuts) {
        w.outcome.callsCut += w.sessions(host);
        host.calls = host.calls.map((end) => Math.min(end, w.t));
      }
    },
  };
}
