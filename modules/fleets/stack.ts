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
import type { Inventory, InventoryHost } from "../config/inventory.schema";
import { cloudInitUserData, tuningPayloadPart } from "./host-tuning";
import { classHardware, cloudHardware } from "../tuning/host-facts";
import { privilegeOf, renderPayload, sudoersRule, type HostPayload } from "./metal-payload";
import { weightsOf } from "../traffic/weights";
import { hostCounts, hostStates } from "./metal-args";
import { StackFacts, stackFacts } from "./facts";

/** The stack's config document, as `pulumi up` or the mock runtime hands it over. */
export function stackFromPulumi(): { document: StackFile; inventory?: Inventory } {
  const file = stackFileName(DEFAULT_STACKS_DIR, pulumi.getStack());
  return validateStackDocument(file, stackDocumentFromConfigMap(pulumi.runtime.allConfig()));
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
  gcp: () => require("./gcp") as typeof import("./gcp"),
  aws: () => require("./aws") as typeof import("./aws"),
  metal: () => require("./metal") as typeof import("./metal"),
};

/** Declares the stack's resources; returns its outputs. */
export function declareStack(stack: {
  document: StackFile;
  inventory?: Inventory;
}): Record<string, pulumi.Input<unknown>> {
  const { config } = stack.document;
  new StackFacts("stack-facts", {
    facts: stackFacts(pulumi.getStack(), stack.document, stack.inventory, isConfigSecret),
  });
  const traffic = config["avfleet:traffic"];
  if (traffic) {
    const split = new (components.traffic().TrafficSplit)(`traffic-${traffic.mediaRegion}`, {
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
  };
  switch (spec.kind) {
    case "gcp": {
      const fleet = new (components.gcp().GcpFleet)(spec.pool, {
        spec,
        project: config["gcp:project"]!,
        region: config["gcp:region"]!,
        userData: cloudInitUserData(spec, cloudHardware(spec.machineType, "gve")),
      });
      return {
        ...common,
        minHosts: spec.minHosts,
        maxHosts: spec.maxHosts,
        instanceGroup: fleet.instanceGroup,
      };
    }
    case "aws": {
      const fleet = new (components.aws().AwsFleet)(spec.pool, {
        spec,
        region: config["aws:region"]!,
        userData: cloudInitUserData(spec, cloudHardware(spec.instanceType, "ena")),
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
      const partsOf = (hostClass: string) => [
        tuningPayloadPart(spec, classHardware(inventory.hostClasses[hostClass])),
      ];
      const byClass = new Map<string, HostPayload>();
      const payloadFor = (host: InventoryHost) => {
        if (!byClass.has(host.class))
          byClass.set(host.class, renderPayload(spec.ssh.user, partsOf(host.class)));
        return byClass.get(host.class)!;
      };
      new (components.metal().MetalFleet)(spec.pool, {
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
        // What a host must grant before the first up (every class's payload runs the same steps).
        provisioning:
          privilegeOf(spec.ssh.user) === "root"
            ? { user: spec.ssh.user, privilege: "root" }
            : {
                user: spec.ssh.user,
                privilege: "sudo",
                sudoers: sudoersRule(spec.ssh.user, partsOf(Object.keys(inventory.hostClasses)[0])),
              },
      };
    }
  }
}
