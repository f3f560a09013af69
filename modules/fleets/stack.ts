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
} from "../config/stack";
import type { StackFile } from "../config/stack.schema";
import type { AwsFleetSpec, FleetSpec, GcpFleetSpec } from "../config/fleet.schema";
import { STOP_MARGIN_SEC } from "../host/units";
import { DRAIN_HOOK, drainHook } from "./aws-args";
import { autoscalerMode, scheduling } from "./gcp-args";
import type { Inventory, InventoryHost } from "../config/inventory.schema";
import { machineType } from "../capacity/machine-types";
import { AwsFleet } from "./aws";
import { GcpFleet } from "./gcp";
import { hostTuning, type HostHardware } from "./host-tuning";
import { bootstrapScript, cloudConfig, metalPayload } from "../host/bootstrap";
import { MetalFleet, type HostPayload } from "./metal";
import { TrafficSplit } from "../traffic/split";
import { weightsOf } from "../traffic/weights";
import { hostCounts, hostStates } from "./metal-args";

/** The stack's config document, as `pulumi up` or the mock runtime hands it over. */
export function stackFromPulumi(): { document: StackFile; inventory?: Inventory } {
  const file = stackFileName(DEFAULT_STACKS_DIR, pulumi.getStack());
  return validateStackDocument(file, stackDocumentFromConfigMap(pulumi.runtime.allConfig()));
}

/** A cloud VM's hardware facts; gVNIC and ENA give one queue pair per vCPU up to 16 and 32. */
function cloudHardware(type: string, nicDriver: "gve" | "ena"): HostHardware {
  const { vcpus, streamsPerHost } = machineType(type);
  const queues = Math.min(vcpus, nicDriver === "gve" ? 16 : 32);
  return { cores: vcpus, nicDriver, rxQueues: queues, txQueues: queues, streamsPerHost };
}

/** What runs on the pool's hosts and the drain limits in force, as preview shows them. */
export function hostOutput(spec: FleetSpec): { workload: string; agent: string; drain: string } {
  const media = `media unit stops after ${spec.drainSeconds + STOP_MARGIN_SEC} s`;
  const limits = {
    gcp: () => {
      const gcpSpec = spec as GcpFleetSpec;
      const shutdown = scheduling(gcpSpec).gracefulShutdown.maxDuration.seconds;
      return `graceful shutdown ${shutdown} s; autoscaler ${autoscalerMode(gcpSpec)}`;
    },
    aws: () =>
      `lifecycle hook ${DRAIN_HOOK} heartbeat ${drainHook(spec as AwsFleetSpec).heartbeatTimeout} s`,
    metal: () => "on inventory state draining",
  }[spec.kind]();
  return {
    workload: `${spec.workload.package} ${spec.workload.version}`,
    agent: `avfleet-agent, load every ${spec.agent.intervalSec} s`,
    drain: `up to ${spec.drainSeconds} s (${limits}; ${media})`,
  };
}

/** Declares the stack's resources; returns its outputs. */
export function declareStack(stack: {
  document: StackFile;
  inventory?: Inventory;
}): Record<string, pulumi.Input<unknown>> {
  const { config } = stack.document;
  const traffic = config["avfleet:traffic"];
  if (traffic) {
    const split = new TrafficSplit(`traffic-${traffic.mediaRegion}`, {
      spec: traffic,
      gcpProject: config["gcp:project"],
    });
    return {
      kind: "traffic",
      mediaRegion: traffic.mediaRegion,
      recordName: traffic.dns.recordName,
      ttl: traffic.dns.ttl,
      weights: weightsOf(traffic),
      previousWeights: split.previousWeights,
    };
  }
  const spec = config["avfleet:fleet"]!;
  const common = {
    ...(spec.endpoint ? { endpoint: spec.endpoint } : {}),
    kind: spec.kind,
    pool: spec.pool,
    mediaRegion: spec.mediaRegion,
    healthCheckPath: spec.ports.health.path,
    // Where the traffic split's health check reaches the pool's join endpoint.
    signalingPort: spec.ports.signalingTcp[0],
    host: hostOutput(spec),
  };
  switch (spec.kind) {
    case "gcp": {
      const fleet = new GcpFleet(spec.pool, {
        spec,
        project: config["gcp:project"]!,
        region: config["gcp:region"]!,
        startupScript: bootstrapScript(
          spec,
          hostTuning(spec, cloudHardware(spec.machineType, "gve")),
        ),
      });
      return {
        ...common,
        minHosts: spec.minHosts,
        maxHosts: spec.maxHosts,
        instanceGroup: fleet.instanceGroup,
      };
    }
    case "aws": {
      const fleet = new AwsFleet(spec.pool, {
        spec,
        region: config["aws:region"]!,
        userData: cloudConfig(spec, hostTuning(spec, cloudHardware(spec.instanceType, "ena"))),
      });
      return {
        ...common,
        minHosts: spec.minHosts,
        maxHosts: spec.maxHosts,
        autoScalingGroup: fleet.autoScalingGroupName,
      };
    }
    case "metal": {
      const inventory = stack.inventory!;
      const byClass = new Map<string, HostPayload>();
      const payloadFor = (host: InventoryHost) => {
        const key = `${host.class} ${host.state}`;
        if (!byClass.has(key)) {
          const c = inventory.hostClasses[host.class];
          const tuning = hostTuning(spec, {
            cores: c.cores,
            nicDriver: c.nicDriver,
            rxQueues: c.nicQueues,
            txQueues: c.nicQueues,
            streamsPerHost: c.streamsPerHost,
            interfaces: c.interfaces,
          });
          byClass.set(key, metalPayload(spec, tuning, host.state));
        }
        return byClass.get(key)!;
      };
      new MetalFleet(spec.pool, {
        spec,
        inventory,
        sshPrivateKey: new pulumi.Config("avfleet").requireSecret("sshPrivateKey"),
        payloadFor,
        gcpProject: config["gcp:project"],
      });
      const hosts = hostCounts(inventory);
      return {
        ...common,
        site: spec.site,
        minHosts: hosts.active,
        maxHosts: hosts.active,
        hosts,
        hostStates: hostStates(inventory),
      };
    }
  }
}
