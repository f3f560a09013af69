/**
 * What a release's rollout asks a cloud pool's provider, as data: for each batch of
 * planBatches (modules/release/batches.ts), the exact CLI argv of each step, a pure reading of
 * each step's answer, and the provider rules (modules/providers) that say what the provider
 * does then — what a simulation of the rollout models. It runs nothing: the rollout executor
 * (modules/rollout) runs the argv, after an `up` that points the group at the release
 * (avfleet:rollout target release, modules/release/cloud-intent.ts).
 *
 * A batch, drain first:
 *   1. drain — the pool's own drain path: GCP, the scale-in controller's mark on each VM (with
 *      the release, so the controller leaves the VM to the rollout); AWS, a termination through
 *      the drain hook, which the agent completes at zero calls or at the drain limit.
 *   2. drained — whether each host is done: GCP, its guest attribute; AWS, its lifecycle state.
 *   3. replace — GCP: recreate the drained VMs from the MIG's template; AWS: nothing, the
 *      termination already had the group launch a replacement from its version.
 *   4. running — which template or version each host of the group runs, to verify the batch.
 */
import {
  GCP_DRAIN_ATTRIBUTE,
  GCP_DRAIN_AT_ATTRIBUTE,
  GCP_DRAIN_FOR_ATTRIBUTE,
} from "../host/metrics";
import * as aws from "../providers/aws";
import * as gcp from "../providers/gcp";
import type { ProviderRule } from "../providers/rule";

/** One call to the provider's CLI, and the rules that say what the provider does on it. */
export interface RolloutStep {
  argv: string[];
  rules: ProviderRule[];
}

/** A GCP pool as its rollout addresses it. */
export interface GcpRolloutPool {
  project: string;
  region: string;
  /** The regional MIG's name. */
  instanceGroupManager: string;
}

export interface GcpHost {
  name: string;
  zone: string;
}

/** An AWS pool as its rollout addresses it. */
export interface AwsRolloutPool {
  region: string;
  autoScalingGroup: string;
}

/** The guest attribute the agent writes when its drain is done (`done <epoch> <sessions left>`). */
const GUEST_NAMESPACE = "avfleet";
const GUEST_DRAIN_KEY = "drain";

/** RFC 3339 to the second, as the scale-in controller reads `avfleet-drain-at`. */
const rfc3339 = (at: Date) => at.toISOString().replace(/\.\d+Z$/, "Z");

const gcloud = (pool: GcpRolloutPool, ...args: string[]) => [
  "gcloud",
  ...args,
  `--project=${pool.project}`,
];

/** A command on the pool's regional MIG. */
const mig = (pool: GcpRolloutPool, command: string, ...args: string[]) =>
  gcloud(
    pool,
    "compute",
    "instance-groups",
    "managed",
    command,
    pool.instanceGroupManager,
    `--region=${pool.region}`,
    ...args,
  );

export const gcpRollout = {
  /**
   * Mark each VM as the scale-in controller does (`avfleet-drain=true`, `avfleet-drain-at`), and
   * with the release it drains for: the agent drains on the mark, the controller counts the VM
   * as draining and leaves it to the rollout. One call per VM (add-metadata takes one).
   */
  drain(pool: GcpRolloutPool, hosts: GcpHost[], release: string, at: Date): RolloutStep[] {
    const metadata = [
      `${GCP_DRAIN_ATTRIBUTE}=true`,
      `${GCP_DRAIN_AT_ATTRIBUTE}=${rfc3339(at)}`,
      `${GCP_DRAIN_FOR_ATTRIBUTE}=${release}`,
    ].join(",");
    return hosts.map((h) => ({
      argv: gcloud(
        pool,
        "compute",
        "instances",
        "add-metadata",
        h.name,
        `--zone=${h.zone}`,
        `--metadata=${metadata}`,
      ),
      rules: [gcp.ADD_METADATA],
    }));
  },

  drained(pool: GcpRolloutPool, host: GcpHost): RolloutStep {
    return {
      argv: gcloud(
        pool,
        "compute",
        "instances",
        "get-guest-attributes",
        host.name,
        `--zone=${host.zone}`,
        `--query-path=${GUEST_NAMESPACE}/`,
        "--format=json",
      ),
      rules: [gcp.GUEST_ATTRIBUTES],
    };
  },

  /**
   * Whether the agent said its drain is done. The API answers `{queryValue: {items}}`; gcloud's
   * JSON of the command was not seen here, so a bare list of the items is read as well.
   */
  drainDone(answer: unknown): boolean {
    const items = Array.isArray(answer)
      ? answer
      : ((answer as { queryValue?: { items?: unknown[] } } | null)?.queryValue?.items ?? []);
    return items.some((item) => {
      const { namespace, key, value } = (item ?? {}) as Record<string, unknown>;
      return (
        namespace === GUEST_NAMESPACE &&
        key === GUEST_DRAIN_KEY &&
        String(value ?? "").split(" ")[0] === "done"
      );
    });
  },

  /**
   * Recreate the drained VMs (same names and zones) from the MIG's current template, which the
   * `up` of the rollout pointed at the release. Only drained VMs: recreating one deletes it.
   * update-instances --minimal-action=replace would do the same for a VM not on the target; a
   * recreate also repeats a batch whose VMs already are, so it is the one step for forward and
   * back alike.
   */
  replace(pool: GcpRolloutPool, hosts: GcpHost[]): RolloutStep {
    return {
      argv: mig(
        pool,
        "recreate-instances",
        `--instances=${hosts.map((h) => h.name).join(",")}`,
        "--format=json",
      ),
      rules: [gcp.RECREATE, gcp.STOP_LIMIT, gcp.AUTOHEALING, gcp.UPDATE_POLICY],
    };
  },

  running(pool: GcpRolloutPool): RolloutStep {
    return {
      argv: mig(pool, "list-instances", "--format=json"),
      rules: [gcp.MANAGED_INSTANCES],
    };
  },

  /** Each VM of the answer: its name, zone, template, status and the MIG's current action. */
  runningHosts(answer: unknown) {
    return (Array.isArray(answer) ? answer : []).map((m: Record<string, any>) => {
      const parts = String(m.instance ?? "").split("/");
      return {
        name: parts[parts.length - 1],
        zone: parts[parts.length - 3],
        template: m.version?.instanceTemplate as string | undefined,
        status: m.instanceStatus as string | undefined,
        action: (m.currentAction ?? "NONE") as string,
        target: m.targetStatus as string | undefined,
      };
    });
  },

  /** The MIG itself: its versions name the template new and recreated VMs get. */
  group(pool: GcpRolloutPool): RolloutStep {
    return {
      argv: mig(pool, "describe", "--format=json"),
      rules: [gcp.STANDBY_MEMBERS, gcp.UPDATE_POLICY],
    };
  },

  /**
   * The standby members (the MIG keeps them stopped or suspended) made from another template
   * than the one the group now creates VMs from: an OPPORTUNISTIC group updates none of them, and
   * a scale-out would start them on the old release. They carry no calls: recreated at once
   * (replace), before the canary, as AWS refreshes its warm pool.
   */
  staleStandby(list: unknown, describe: unknown): GcpHost[] {
    const template = gcp.templateForNewVms((describe ?? {}) as { versions?: [] });
    if (!template) return [];
    return gcpRollout
      .runningHosts(list)
      .filter(
        (h) =>
          gcp.standbyMember(h.target) &&
          h.template !== undefined &&
          templateName(h.template) !== templateName(template),
      )
      .map(({ name, zone }) => ({ name, zone }));
  },
};

/** A template self link's name; the unique form (`?uniqueId=…`) the program outputs names the same. */
export const templateName = (link: string) => link.split("?")[0].split("/").at(-1)!;

/** DescribeAutoScalingInstances takes at most 50 ids a call. */
const DESCRIBE_MAX_IDS = 50;

const awsCli = (pool: AwsRolloutPool, ...args: string[]) => [
  "aws",
  ...args,
  "--region",
  pool.region,
  "--output",
  "json",
];

export const awsRollout = {
  /**
   * Terminate each instance without decrementing the desired capacity: it is deregistered, its
   * agent drains in Terminating:Wait and completes the drain hook; the group meanwhile launches
   * a replacement from the version the `up` of the rollout pointed it at. No replace step.
   */
  drain(pool: AwsRolloutPool, instanceIds: string[]): RolloutStep[] {
    return instanceIds.map((id) => ({
      argv: awsCli(
        pool,
        "autoscaling",
        "terminate-instance-in-auto-scaling-group",
        "--instance-id",
        id,
        "--no-should-decrement-desired-capacity",
      ),
      rules: [
        aws.TERMINATE_INSTANCE,
        aws.TERMINATION,
        aws.NLB_DEREGISTRATION,
        aws.HOOK_TIMEOUT,
        aws.LAUNCH_TEMPLATE_VERSION,
      ],
    }));
  },

  drained(pool: AwsRolloutPool, instanceIds: string[]): RolloutStep[] {
    const steps: RolloutStep[] = [];
    for (let i = 0; i < instanceIds.length; i += DESCRIBE_MAX_IDS) {
      steps.push({
        argv: awsCli(
          pool,
          "autoscaling",
          "describe-auto-scaling-instances",
          "--instance-ids",
          ...instanceIds.slice(i, i + DESCRIBE_MAX_IDS),
        ),
        rules: [aws.LIFECYCLE_STATE],
      });
    }
    return steps;
  },

  /** Each asked instance's drain: serving, draining (Terminating*), or gone (left the group). */
  drainStages(answer: unknown, instanceIds: string[]) {
    const found = new Map<string, string>(
      (
        (answer as { AutoScalingInstances?: Record<string, string>[] } | null)
          ?.AutoScalingInstances ?? []
      ).map((i) => [i.InstanceId, i.LifecycleState]),
    );
    return new Map(instanceIds.map((id) => [id, aws.drainStage(found.get(id))]));
  },

  running(pool: AwsRolloutPool): RolloutStep {
    return {
      argv: awsCli(
        pool,
        "autoscaling",
        "describe-auto-scaling-groups",
        "--auto-scaling-group-names",
        pool.autoScalingGroup,
      ),
      rules: [aws.LIFECYCLE_STATE, aws.LAUNCH_TEMPLATE_VERSION],
    };
  },

  /** The group's instances: id, zone, lifecycle state and the launch template version each runs. */
  runningHosts(answer: unknown) {
    const group = (answer as { AutoScalingGroups?: Record<string, any>[] } | null)
      ?.AutoScalingGroups?.[0];
    return ((group?.Instances ?? []) as Record<string, any>[]).map((i) => ({
      id: i.InstanceId as string,
      zone: i.AvailabilityZone as string,
      state: i.LifecycleState as string,
      version:
        i.LaunchTemplate?.Version === undefined ? undefined : Number(i.LaunchTemplate.Version),
    }));
  },

  /** The version the group launches from (its LaunchTemplate.Version). */
  groupVersion(answer: unknown): number | undefined {
    const group = (answer as { AutoScalingGroups?: Record<string, any>[] } | null)
      ?.AutoScalingGroups?.[0];
    const version =
      group?.LaunchTemplate?.Version ??
      group?.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification?.Version;
    return version === undefined ? undefined : Number(version);
  },

  /** Warm instances launched from another version than `version`: to be replaced before a canary. */
  staleWarm(answer: unknown, version: number): string[] {
    const instances = (answer as { Instances?: Record<string, any>[] } | null)?.Instances ?? [];
    return instances
      .filter((i) => Number(i.LaunchTemplate?.Version) !== version)
      .map((i) => i.InstanceId as string);
  },

  /** The warm pool's instances, whose version no change of the group's reaches. */
  warmPool(pool: AwsRolloutPool): RolloutStep {
    return {
      argv: awsCli(
        pool,
        "autoscaling",
        "describe-warm-pool",
        "--auto-scaling-group-name",
        pool.autoScalingGroup,
      ),
      rules: [aws.WARM_POOL_VERSION],
    };
  },

  /**
   * Before the canary: warm instances on another version would come out of the pool as
   * replacements of the old release. They carry no calls (stopped, or never in service);
   * EC2's own terminate takes them (the group's refuses warm instances) and the group
   * relaunches them from its version.
   */
  refreshWarmPool(pool: AwsRolloutPool, instanceIds: string[]): RolloutStep {
    return {
      argv: awsCli(pool, "ec2", "terminate-instances", "--instance-ids", ...instanceIds),
      rules: [aws.WARM_POOL_VERSION],
    };
  },
};
