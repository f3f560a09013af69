/**
 * The program of every stack: read the stack's config from Pulumi, validate it with the same
 * schema and checks as the offline loader, and declare the one fleet it describes.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  DEFAULT_STACKS_DIR,
  stackDocumentFromConfigMap,
  stackFileName,
  validateStackDocument,
} from "../stacks/stack";
import type { StackFile } from "../stacks/stack.schema";
import { assertNoFileProblems } from "../inputs/problems";
import { offlineStacksDir } from "./offline";
import type { AwsFleetSpec, FleetSpec, GcpFleetSpec, MetalFleetSpec } from "../config/fleet.schema";
import { STOP_MARGIN_SEC } from "../host/units";
import { workloadShown } from "../host/image";
import { DRAIN_HOOK, drainHook } from "../fleets/aws-args";
import { AUTOSCALER_MODE } from "../fleets/gcp-args";
import type { Inventory } from "../inventory/inventory";
import { classHardware, cloudHardware } from "../tuning/host-facts";
import { hostTuning, tuningPayloadPart } from "../host-payloads/host-tuning";
import { awsBoot, bootstrapScript, metalPart } from "../host/bootstrap";
import type { CloudWatchCounters } from "../host/agent";
import {
  privilegeOf,
  renderPayload,
  sudoersRule,
  type Payload,
} from "../host-payloads/metal-payload";
import { storeIdentity, storePayload, storeSshFiles } from "../host-payloads/payload-store";
import { sshFiles } from "../host-payloads/metal-ssh";
import { releaseIntent } from "../release/intent";
import { weightsOf } from "../traffic/weights";
import { refuseStale, selfReference } from "../traffic/stack-ref";
import { floorChangeAt } from "../../policy/contract/migration";
import { hostCounts, hostStates, provisionedHosts } from "../fleets/metal-args";
import { StackFacts, stackFacts } from "./facts";
import {
  scalingSummary,
  type AwsScaling,
  type FleetScaling,
  type GcpScaling,
} from "../fleets/scaling";

/**
 * The stack's config document, as `pulumi up` or the mock runtime hands it over. An example
 * stack stops an update here, before it declares anything: its placeholders are other
 * people's zones, networks and hosts.
 */
export function stackFromPulumi(): { document: StackFile; inventory?: Inventory } {
  const file = stackFileName(DEFAULT_STACKS_DIR, pulumi.getStack());
  const offline = offlineStacksDir();
  const stack = validateStackDocument(
    file,
    stackDocumentFromConfigMap(pulumi.runtime.allConfig()),
    offline ?? DEFAULT_STACKS_DIR,
  );
  if (
    stack.document.config["avfleet:example"] === true &&
    !pulumi.runtime.isDryRun() &&
    offline === undefined
  ) {
    assertNoFileProblems([
      {
        file,
        path: ["config", "avfleet:example"],
        message: "is true, and this is an update: an example stack is previewed, never applied",
        expected:
          "your own value for every placeholder (avfleet policy lists them), then avfleet:example removed",
      },
    ]);
  }
  return stack;
}

/**
 * Whether Pulumi holds a config key as a secret (PULUMI_CONFIG_SECRET_KEYS, set by the CLI and
 * by setAllConfig). The SDK exports it from runtime without typing it.
 */
const isConfigSecret = (key: string): boolean =>
  (pulumi.runtime as unknown as { isConfigSecret(key: string): boolean }).isConfigSecret(key);

// Each kind's component is required when a stack of that kind is declared: a GCP stack never
// loads @pulumi/aws, and the Plan cache keys each stack by the modules it actually ran, so a
// change to the AWS fleet does not re-evaluate GCP stacks.
const components = {
  traffic: () => require("../traffic/split") as typeof import("../traffic/split"),
  gcp: () => require("../fleets/gcp") as typeof import("../fleets/gcp"),
  aws: () => require("../fleets/aws") as typeof import("../fleets/aws"),
  metal: () => require("../fleets/metal") as typeof import("../fleets/metal"),
};

/** What runs on the pool's hosts and the drain limits in force, as preview shows them. */
export function hostOutput(spec: FleetSpec): { workload: string; agent: string; drain: string } {
  const media = `media unit stops after ${spec.drainSeconds + STOP_MARGIN_SEC} s`;
  const limits = {
    gcp: () => {
      const { maxHostsPerWindow, windowSec } = (spec as GcpFleetSpec).autoscaling.scaleIn;
      return `autoscaler ${AUTOSCALER_MODE}; scale-in controller drains ≤ ${maxHostsPerWindow} host(s) per ${windowSec} s, deletes each once drained`;
    },
    aws: () =>
      `lifecycle hook ${DRAIN_HOOK} heartbeat ${drainHook(spec as AwsFleetSpec).heartbeatTimeout} s`,
    metal: () => "on inventory state draining",
  }[spec.kind]();
  return {
    workload: workloadShown(spec),
    agent: `avfleet-agent, load every ${spec.agent.intervalSec} s`,
    drain: `up to ${spec.drainSeconds} s (${limits}; ${media})`,
  };
}

/**
 * A site's payloads: each class with an active host gets its tuning (with the tools it needs)
 * and the bootstrap that starts the agent and the media server; a draining host only a drain
 * request, so nothing else changes under its live calls. Pure.
 */
export function metalPayloads(
  spec: MetalFleetSpec,
  inventory: Inventory,
): { classes: Record<string, Payload>; drain: Payload } {
  const hardware = (name: string) => classHardware(inventory.hostClasses[name]);
  const active = [
    ...new Set(inventory.hosts.filter((h) => h.state === "active").map((h) => h.class)),
  ].sort();
  return {
    classes: Object.fromEntries(
      active.map((name) => [
        name,
        renderPayload(
          [
            tuningPayloadPart(spec, hardware(name)),
            metalPart(spec, hostTuning(spec, hardware(name)), "active"),
          ],
          { release: true },
        ),
      ]),
    ),
    // A drain request is the same whatever the class: it changes nothing of the tuning.
    drain: renderPayload([
      metalPart(
        spec,
        hostTuning(spec, hardware(Object.keys(inventory.hostClasses)[0])),
        "draining",
      ),
    ]),
  };
}

/**
 * Declares the stack's resources; returns its outputs. `scaling` is the cloud fleet's policy
 * compiled by modules/scaling, `cloudwatch` what an AWS pool's hosts publish for its alarms,
 * from modules/observe (index.ts computes both: the fleets sit below those domains).
 */
export async function declareStack(
  stack: { document: StackFile; inventory?: Inventory },
  scaling?: FleetScaling,
  cloudwatch?: CloudWatchCounters,
): Promise<Record<string, pulumi.Input<unknown>>> {
  const { config } = stack.document;
  const fleet = config["avfleet:fleet"];
  // What the pack's fleet-migration-order compares this update's marker with (policy/migration.ts),
  // and the program too, pack or not (a bare `up` on a DIY backend), before it declares anything
  // else; a metal site has no minHosts for a migration to raise.
  // Awaited here, so a group's ignoreChanges is a plain list when it registers.
  const applied =
    fleet && fleet.kind !== "metal"
      ? await refuseStale(selfReference(fleet.pool), fleet.migration, "minHosts is")
      : undefined;
  new StackFacts("stack-facts", {
    facts: stackFacts(pulumi.getStack(), stack.document, stack.inventory, isConfigSecret),
  });
  const traffic = config["avfleet:traffic"];
  if (traffic) {
    const split = await components
      .traffic()
      .TrafficSplit.declare(`traffic-${traffic.mediaRegion}`, {
        spec: traffic,
        gcpProject: config["gcp:project"],
      });
    return {
      kind: "traffic",
      mediaRegion: traffic.mediaRegion,
      recordName: traffic.dns.recordName,
      ttl: traffic.dns.ttl,
      weights: weightsOf(traffic),
      // What the next update's pack compares its config with (policy/migration.ts).
      migration: traffic.migration ?? null,
      previousWeights: split.previousWeights,
    };
  }
  const spec = fleet!;
  const common = {
    ...(spec.endpoint ? { endpoint: spec.endpoint } : {}),
    kind: spec.kind,
    pool: spec.pool,
    mediaRegion: spec.mediaRegion,
    healthCheckPath: spec.ports.health.path,
    // Where the traffic split's health check reaches the pool's join endpoint.
    signalingPort: spec.ports.signalingTcp[0],
    host: hostOutput(spec),
    migration: spec.migration ?? null,
  };
  switch (spec.kind) {
    case "gcp": {
      const fleet = new (components.gcp().GcpFleet)(spec.pool, {
        spec,
        project: config["gcp:project"]!,
        region: config["gcp:region"]!,
        startupScript: bootstrapScript(
          spec,
          hostTuning(spec, cloudHardware(spec.machineType, "gve")),
        ),
        scaling: scaling as GcpScaling,
        rollout: config["avfleet:rollout"],
      });
      return {
        ...common,
        scaling: scalingSummary(scaling!),
        minHosts: spec.minHosts,
        maxHosts: spec.maxHosts,
        instanceGroup: fleet.instanceGroup,
        release: fleet.release,
        // What a Cloud DNS traffic split answers with and health-checks for this pool.
        endpointAddresses: [fleet.endpointAddress],
      };
    }
    case "aws": {
      const fleet = new (components.aws().AwsFleet)(spec.pool, {
        spec,
        region: config["aws:region"]!,
        boot: awsBoot(spec, hostTuning(spec, cloudHardware(spec.instanceType, "ena")), cloudwatch),
        scaling: scaling as AwsScaling,
        rollout: config["avfleet:rollout"],
        floorAt: floorChangeAt(spec.migration, applied),
      });
      return {
        ...common,
        scaling: scalingSummary(scaling!),
        minHosts: spec.minHosts,
        maxHosts: spec.maxHosts,
        autoScalingGroup: fleet.autoScalingGroupName,
        release: fleet.release,
      };
    }
    case "metal": {
      const inventory = stack.inventory!;
      const payloads = metalPayloads(spec, inventory);
      const { output: release, hosts: intents } = releaseIntent({
        file: stackFileName(DEFAULT_STACKS_DIR, pulumi.getStack()),
        classes: Object.fromEntries(Object.entries(payloads.classes).map(([c, p]) => [c, p.sha])),
        hosts: provisionedHosts(inventory).map((h) => ({
          name: h.name,
          domain: h.rack,
          class: h.class,
          state: h.state as "active" | "draining",
        })),
        rollout: config["avfleet:rollout"],
      });
      for (const payload of Object.values(payloads.classes)) storePayload(payload);
      const ssh = storeSshFiles(
        spec.pool,
        sshFiles(spec.pool, spec.ssh, provisionedHosts(inventory)),
      );
      new (components.metal().MetalFleet)(spec.pool, {
        spec,
        inventory,
        ssh,
        ready: spec.ssh.agent
          ? pulumi.output("")
          : pulumi.unsecret(
              new pulumi.Config("avfleet")
                .requireSecret("sshPrivateKey")
                // A preview runs no command: the key is written only where an up runs them.
                .apply((key) => (pulumi.runtime.isDryRun() || storeIdentity(spec.pool, key), "")),
            ),
        classes: Object.fromEntries(
          Object.entries(payloads.classes).map(([c, payload]) => [c, { payload }]),
        ),
        drain: payloads.drain,
        intents,
        gcpProject: config["gcp:project"],
      });
      const hosts = hostCounts(inventory);
      return {
        ...common,
        site: spec.site,
        ...(spec.endpointAddresses ? { endpointAddresses: spec.endpointAddresses } : {}),
        minHosts: hosts.active,
        maxHosts: hosts.active,
        hosts,
        hostStates: hostStates(inventory),
        // What a host must grant before the first up: the same for every class and release.
        provisioning:
          privilegeOf(spec.ssh.user) === "root"
            ? { user: spec.ssh.user, privilege: "root" }
            : { user: spec.ssh.user, privilege: "sudo", sudoers: sudoersRule(spec.ssh.user) },
        release,
      };
    }
  }
}
