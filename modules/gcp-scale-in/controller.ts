/**
 * The scale-in controller of every GCP pool: its autoscaler only scales out, and this function
 * — run every minute by Cloud Scheduler — marks hosts to drain (an object `drain/<VM name>` in
 * the pool's mark bucket, see gcpDrainObject), those expected to hold the fewest calls at the
 * drain limit and none above the pool's per-host budget, and cordons those beyond the load's need
 * (`cordon/<VM name>`)
 * while the MIG is larger than the autoscaler recommends (and than the hosts' own loads, which
 * each VM reports in a guest attribute only it can write, need). Each marked host's agent drains and
 * says so in a guest attribute; a later pass deletes its VM from the MIG (as it does once a mark
 * is older than the drain limit). The decisions and the API calls are controller.py (Python 3
 * standard library), carried as the function's main.py; this file computes its settings and
 * declares it.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as cloudfunctionsv2 from "@pulumi/gcp/cloudfunctionsv2";
import * as cloudrunv2 from "@pulumi/gcp/cloudrunv2";
import * as cloudscheduler from "@pulumi/gcp/cloudscheduler";
import * as compute from "@pulumi/gcp/compute";
import * as projects from "@pulumi/gcp/projects";
import * as serviceaccount from "@pulumi/gcp/serviceaccount";
import * as storage from "@pulumi/gcp/storage";
import type { GcpFleetSpec } from "../config/fleet.schema";
import { SCALE_IN_ENV } from "../../policy/contract/rules";
import { warmPoolOf } from "../config/fleet";
import {
  gcpDrainBucket,
  GCP_ADMIT_PREFIX,
  GCP_CORDON_PREFIX,
  GCP_DRAIN_PREFIX,
} from "../host/metrics";
import { autoscalerTarget, poolInstances } from "./pool";

export const SCALE_IN_SOURCE = readFileSync(join(__dirname, "controller.py"), "utf8");

/** Required by every Python function; Google installs it anyway, pinned here for repeatable builds. */
export const SCALE_IN_REQUIREMENTS = "functions-framework==3.10.2\n";
export const SCALE_IN_ENTRY_POINT = "scale_in";
export const SCALE_IN_RUNTIME = "python312";
/**
 * The source archive's object name carries its content's hash: a function rebuilds only when
 * its storageSource changes, so a new source must be a new object (and the Plan shows it).
 */
export const SCALE_IN_OBJECT = `scale-in-${createHash("sha256")
  .update(SCALE_IN_SOURCE)
  .update(SCALE_IN_REQUIREMENTS)
  .digest("hex")
  .slice(0, 16)}.zip`;

/** Cloud Scheduler's finest cron step: once a minute. */
export const SCALE_IN_SCHEDULE = "* * * * *";

/**
 * The reads controller.py makes of the MIG and its autoscaler, unconditioned: IAM conditions
 * do not recognize their names (see SCALE_IN_RESIZE_PERMISSIONS). No Cloud Monitoring read: any
 * metricWriter of the project can write the load gauge.
 */
export const SCALE_IN_READ_PERMISSIONS = [
  "compute.autoscalers.get",
  "compute.instanceGroupManagers.get",
  // regionInstanceGroupManagers.listManagedInstances
  "compute.instanceGroupManagers.list",
];
/**
 * ...and of each member VM, only on the pool's VMs: instances.get (its marks) and
 * instances.getGuestAttributes (its own load, and whether its drain is done). No
 * compute.instances.list: that is granted on the project, every VM of it.
 */
export const SCALE_IN_INSPECT_PERMISSIONS = [
  "compute.instances.get",
  "compute.instances.getGuestAttributes",
];
/**
 * The mark: the object drain/<VM name> in the pool's mark bucket, and the cordon, cordon/<VM
 * name>. get (marked, and since its timeCreated), create (only where none exists:
 * ifGenerationMatch=0) and delete (a cordon lifted; a mark once its VM is gone, so a later VM of
 * that name is not born marked). Granted on that bucket and only under those prefixes (and admit/, a first boot's admission). Not compute.instances.setMetadata: that sets any key, `startup-script` and
 * `ssh-keys` included, and IAM has no condition on metadata keys.
 */
export const SCALE_IN_MARK_PERMISSIONS = [
  "storage.objects.create",
  "storage.objects.delete",
  "storage.objects.get",
];
/** The hosts' part: whether a mark or a cordon exists. A list is a bucket's, which no prefix holds to. */
export const HOST_MARK_PERMISSIONS = ["storage.objects.get"];
/** regionInstanceGroupManagers.deleteInstances of a drained host: the VM's part, on the pool's VMs. */
export const SCALE_IN_DELETE_PERMISSIONS = ["compute.instances.delete"];
/**
 * ...and the MIG's part. Granted without a condition: IAM conditions recognize resource names
 * only for the resource types Google lists (Compute: Instance, InstanceTemplate, Disk, Firewall,
 * ... but no InstanceGroupManager, https://cloud.google.com/iam/docs/conditions-resource-attributes),
 * so a condition naming the MIG would never hold and every deletion would be refused. The account
 * may therefore update any MIG of the project: keep a region's pools in a project of their own.
 */
export const SCALE_IN_RESIZE_PERMISSIONS = ["compute.instanceGroupManagers.update"];

/**
 * The controller's custom roles: what each lets it do, and where: on the project (the MIG's
 * own reads and update cannot be conditioned, see above), on the pool's VMs, or on the drain/
 * objects of the pool's mark bucket.
 */
export const SCALE_IN_GRANTS = [
  {
    role: "read",
    title: "see the pool's size, recommendation and members",
    permissions: SCALE_IN_READ_PERMISSIONS,
    on: "project",
  },
  {
    role: "inspect",
    title: "see the pool's hosts, their marks and their own loads",
    permissions: SCALE_IN_INSPECT_PERMISSIONS,
    on: "pool-vms",
  },
  {
    role: "mark",
    title: "mark the pool's hosts to drain",
    permissions: SCALE_IN_MARK_PERMISSIONS,
    on: "drain-marks",
  },
  {
    role: "delete",
    title: "delete the pool's drained hosts from its MIG",
    permissions: SCALE_IN_DELETE_PERMISSIONS,
    on: "pool-vms",
  },
  {
    role: "resize",
    title: "take deleted hosts out of the MIG's size",
    permissions: SCALE_IN_RESIZE_PERMISSIONS,
    on: "project",
  },
] as const;

/**
 * IAM condition: objects under drain/, cordon/ and admit/ of the pool's mark bucket. Cloud Storage names an object
 * `projects/_/buckets/<bucket>/objects/<object>` to IAM conditions
 * (https://cloud.google.com/iam/docs/conditions-resource-attributes#resource-name), and a
 * bucket-level binding may carry one (uniform bucket-level access,
 * https://cloud.google.com/storage/docs/samples/storage-add-bucket-conditional-iam-binding); the
 * prefixes joined with || (statements "are combined using logical operators":
 * https://cloud.google.com/iam/docs/conditions-overview).
 */
export function drainMarks(bucket: string): string {
  const under = (prefix: string) =>
    `resource.name.startsWith("projects/_/buckets/${bucket}/objects/${prefix}")`;
  return (
    `resource.type == "storage.googleapis.com/Object" && ` +
    `(${[GCP_DRAIN_PREFIX, GCP_CORDON_PREFIX, GCP_ADMIT_PREFIX].map(under).join(" || ")})`
  );
}

/** A custom role id: letters, digits, underscores and dots, 3–64 characters. */
export function scaleInRoleId(
  pool: string,
  role: (typeof SCALE_IN_GRANTS)[number]["role"] | "host_mark",
): string {
  return `avfleet_${pool.replace(/-/g, "_")}_scale_in_${role}`.slice(0, 64);
}

/**
 * The roles the function's own build account needs (Cloud Run, "Configure the build service
 * account": https://cloud.google.com/run/docs/configuring/services/build-service-account):
 * build logs, the built image in Artifact Registry, the source from Cloud Storage. The
 * default (the compute account) gets no roles where the org enforces
 * iam.automaticIamGrantsForDefaultServiceAccounts.
 */
export const SCALE_IN_BUILD_ROLES = [
  "roles/logging.logWriter",
  "roles/artifactregistry.writer",
  "roles/storage.objectAdmin",
];

/** A service-account id (6–30 characters) of the pool's controller, its scheduler or its build. */
export function scaleInAccountId(
  pool: string,
  role: "scalein" | "scalein-inv" | "scalein-bld",
): string {
  return `${pool.slice(0, 29 - role.length).replace(/-+$/, "")}-${role}`;
}

/** What the function reads from its SCALE_IN_ENV variable: the pool's MIG, autoscaler and rate. */
export interface ScaleInConfig {
  project: string;
  region: string;
  instanceGroupManager: string;
  autoscaler: string;
  /**
   * Streams per host the autoscaler holds each host at: the recommendation is not followed
   * below the hosts the members' own loads need at this.
   */
  hostTarget: number;
  /** The pool's drain limit: a mark older than this (and a margin) is deleted undrained. */
  drainSeconds: number;
  /** At most this many hosts marked within `windowSec` (the autoscaler's scaleInControl). */
  maxHostsPerWindow: number;
  windowSec: number;
  /**
   * Calls a host may be expected to hold at the drain limit and still be drained
   * (`autoscaling.maxCutPerHost`); a host above waits for its calls to end.
   */
  maxCutPerHost: number;
  /**
   * Streams one session forwards (`demand.streamsPerParticipant`): an agent that reports no
   * expectation has each of its calls counted as left at the limit, streams / this.
   */
  streamsPerSession: number;
  /**
   * The pool's mark bucket, the prefix of its marks (`<prefix><VM name>`) and of its cordons
   * (`<cordonPrefix><VM name>`); with a standby pool, of its admissions
   * (`<admitPrefix><VM name>.<instance id>`), which a first boot waits for.
   */
  drainMarks: { bucket: string; prefix: string; cordonPrefix: string; admitPrefix?: string };
  endpoints: { metadata: string; compute: string; storage: string };
}

export function scaleInConfig(
  spec: GcpFleetSpec,
  project: string,
  region: string,
  names: { instanceGroupManager: string; autoscaler: string },
): ScaleInConfig {
  return {
    project,
    region,
    ...names,
    hostTarget: autoscalerTarget(spec),
    drainSeconds: spec.drainSeconds,
    maxHostsPerWindow: spec.autoscaling.scaleIn.maxHostsPerWindow,
    windowSec: spec.autoscaling.scaleIn.windowSec,
    maxCutPerHost: spec.autoscaling.maxCutPerHost,
    streamsPerSession: spec.demand.streamsPerParticipant,
    drainMarks: {
      bucket: gcpDrainBucket(project, spec.pool),
      prefix: GCP_DRAIN_PREFIX,
      cordonPrefix: GCP_CORDON_PREFIX,
      ...(warmPoolOf(spec) ? { admitPrefix: GCP_ADMIT_PREFIX } : {}),
    },
    endpoints: {
      metadata: "http://metadata.google.internal",
      compute: "https://compute.googleapis.com",
      storage: "https://storage.googleapis.com",
    },
  };
}

export interface GcpScaleInArgs {
  /** The validated fleet spec of the pool. */
  spec: GcpFleetSpec;
  /** The GCP project of the pool. */
  project: string;
  /** The pool's region: the function, its schedule and its source bucket live there. */
  region: string;
  /** The pool's regional MIG (its name is what the function reads and lists). */
  instanceGroupManager: compute.RegionInstanceGroupManager;
  /** The pool's ONLY_SCALE_OUT autoscaler, whose recommendedSize the function follows. */
  autoscaler: compute.RegionAutoscaler;
  /** The hosts' service account: marking a VM that runs as it needs actAs on it. */
  hostServiceAccount: serviceaccount.Account;
  /** The project's APIs the pool enables: the function and its schedule wait for them. */
  services: projects.Service[];
}

export class GcpScaleIn extends pulumi.ComponentResource {
  /** The function's URL, which the scheduler calls with an OIDC token. */
  readonly url: pulumi.Output<string>;

  constructor(name: string, a: GcpScaleInArgs, opts?: pulumi.ComponentResourceOptions) {
    super(
      "avfleet:fleets:GcpScaleIn",
      name,
      {
        pool: a.spec.pool,
        drainSeconds: a.spec.drainSeconds,
        schedule: SCALE_IN_SCHEDULE,
        maxHostsPerWindow: a.spec.autoscaling.scaleIn.maxHostsPerWindow,
        windowSec: a.spec.autoscaling.scaleIn.windowSec,
      },
      opts,
    );
    const { spec, project, region } = a;
    const o = { parent: this };

    const account = new serviceaccount.Account(
      `${name}-sa`,
      {
        project,
        accountId: scaleInAccountId(spec.pool, "scalein"),
        displayName: `avfleet scale-in of ${spec.pool}`,
      },
      o,
    );
    const member = pulumi.interpolate`serviceAccount:${account.email}`;
    // The hosts poll it every tick: in the pool's region, beside them.
    const marksBucket = gcpDrainBucket(project, spec.pool);
    const marks = new storage.Bucket(
      `${name}-marks`,
      {
        project,
        name: marksBucket,
        location: region,
        uniformBucketLevelAccess: true,
        publicAccessPrevention: "enforced",
        forceDestroy: true,
        // Soft delete is on by default and keeps every deleted or overwritten object 7 days;
        // a cordon flips each time the load turns and a mark goes with each VM, so these are
        // kept 0 s (https://cloud.google.com/storage/docs/soft-delete; @pulumi/gcp
        // types/input.d.ts storage.BucketSoftDeletePolicy.retentionDurationSeconds: "To
        // disable the soft delete policy on a bucket, This field must be set to 0").
        softDeletePolicy: { retentionDurationSeconds: 0 },
        // A VM the MIG recreates itself (not one this controller deletes) leaves its admission
        // behind; a first boot reads its own within minutes, so a day old is nobody's
        // (https://cloud.google.com/storage/docs/lifecycle: Delete on age and matchesPrefix).
        lifecycleRules: [
          {
            action: { type: "Delete" },
            condition: { age: 1, matchesPrefixes: [GCP_ADMIT_PREFIX] },
          },
        ],
      },
      o,
    );
    const onMarks = {
      title: `only ${spec.pool}'s drain marks`,
      expression: drainMarks(marksBucket),
    };
    for (const grant of SCALE_IN_GRANTS) {
      const role = new projects.IAMCustomRole(
        `${name}-${grant.role}`,
        {
          project,
          roleId: scaleInRoleId(spec.pool, grant.role),
          title: `avfleet ${spec.pool}: ${grant.title}`,
          permissions: grant.permissions,
        },
        o,
      );
      if (grant.on === "drain-marks")
        new storage.BucketIAMMember(
          `${name}-${grant.role}-member`,
          { bucket: marks.name, role: role.name, member, condition: onMarks },
          o,
        );
      else
        new projects.IAMMember(
          `${name}-${grant.role}-member`,
          {
            project,
            role: role.name,
            member,
            ...(grant.on === "pool-vms"
              ? { condition: { title: `only ${spec.pool}'s VMs`, expression: poolInstances(spec) } }
              : {}),
          },
          o,
        );
    }
    // Every host of the pool runs as one account, so IAM cannot hold a host to its own mark:
    // it may read its siblings' too, which tells it nothing it could misuse.
    const hostMark = new projects.IAMCustomRole(
      `${name}-host-mark`,
      {
        project,
        roleId: scaleInRoleId(spec.pool, "host_mark"),
        title: `avfleet ${spec.pool}: hosts see their drain marks`,
        permissions: HOST_MARK_PERMISSIONS,
      },
      o,
    );
    new storage.BucketIAMMember(
      `${name}-host-mark-member`,
      {
        bucket: marks.name,
        role: hostMark.name,
        member: pulumi.interpolate`serviceAccount:${a.hostServiceAccount.email}`,
        condition: onMarks,
      },
      o,
    );
    // Compute asks for actAs on the account a VM runs as of whoever manages (deletes) that VM
    // ("If the user will be managing virtual machine instances that are configured to run as a
    // service account, you must also grant roles/iam.serviceAccountUser":
    // https://cloud.google.com/compute/docs/access/iam, roles/compute.instanceAdmin.v1). It
    // gives the controller nothing beyond the hosts' own rights, which it holds more of.
    new serviceaccount.IAMMember(
      `${name}-act-as-hosts`,
      {
        serviceAccountId: a.hostServiceAccount.name,
        role: "roles/iam.serviceAccountUser",
        member,
      },
      o,
    );

    const bucket = new storage.Bucket(
      `${name}-source`,
      {
        project,
        location: region,
        uniformBucketLevelAccess: true,
        publicAccessPrevention: "enforced",
        forceDestroy: true,
      },
      o,
    );
    // main.py beside requirements.txt at the archive's root, as the Python runtime wants.
    const source = new storage.BucketObject(
      `${name}-source-zip`,
      {
        bucket: bucket.name,
        name: SCALE_IN_OBJECT,
        source: new pulumi.asset.AssetArchive({
          "main.py": new pulumi.asset.StringAsset(SCALE_IN_SOURCE),
          "requirements.txt": new pulumi.asset.StringAsset(SCALE_IN_REQUIREMENTS),
        }),
      },
      o,
    );
    const build = new serviceaccount.Account(
      `${name}-build`,
      {
        project,
        accountId: scaleInAccountId(spec.pool, "scalein-bld"),
        displayName: `avfleet scale-in build of ${spec.pool}`,
      },
      o,
    );
    const buildGrants = SCALE_IN_BUILD_ROLES.map(
      (role) =>
        new projects.IAMMember(
          `${name}-build-${role.split(".").pop()!.toLowerCase()}`,
          { project, role, member: pulumi.interpolate`serviceAccount:${build.email}` },
          o,
        ),
    );
    const config = pulumi
      .all([a.instanceGroupManager.name, a.autoscaler.name])
      .apply(([instanceGroupManager, autoscaler]) =>
        JSON.stringify(scaleInConfig(spec, project, region, { instanceGroupManager, autoscaler })),
      );
    const fn = new cloudfunctionsv2.Function(
      `${name}-fn`,
      {
        project,
        location: region,
        description: `avfleet: drain-first scale-in of ${spec.pool}`,
        buildConfig: {
          // Its own build account, by full resource name, as the field wants.
          serviceAccount: pulumi.interpolate`projects/${project}/serviceAccounts/${build.email}`,
          runtime: SCALE_IN_RUNTIME,
          entryPoint: SCALE_IN_ENTRY_POINT,
          source: { storageSource: { bucket: bucket.name, object: source.name } },
        },
        serviceConfig: {
          serviceAccountEmail: account.email,
          environmentVariables: { [SCALE_IN_ENV]: config },
          // One run at a time: two would mark hosts on the same observation.
          maxInstanceCount: 1,
          maxInstanceRequestConcurrency: 1,
          timeoutSeconds: 50,
          availableMemory: "256M",
          ingressSettings: "ALLOW_ALL",
          allTrafficOnLatestRevision: true,
        },
      },
      { ...o, dependsOn: [...a.services, ...buildGrants] },
    );
    this.url = fn.url;

    const invoker = new serviceaccount.Account(
      `${name}-invoker`,
      {
        project,
        accountId: scaleInAccountId(spec.pool, "scalein-inv"),
        displayName: `avfleet scale-in scheduler of ${spec.pool}`,
      },
      o,
    );
    // A 2nd-gen function is a Cloud Run service: calling it needs run.invoker on that service.
    new cloudrunv2.ServiceIamMember(
      `${name}-invoke`,
      {
        project,
        location: region,
        name: fn.name,
        role: "roles/run.invoker",
        member: pulumi.interpolate`serviceAccount:${invoker.email}`,
      },
      o,
    );
    new cloudscheduler.Job(
      `${name}-schedule`,
      {
        project,
        region,
        description: `avfleet: scale-in pass of ${spec.pool}`,
        schedule: SCALE_IN_SCHEDULE,
        timeZone: "Etc/UTC",
        attemptDeadline: "60s",
        httpTarget: {
          httpMethod: "POST",
          uri: fn.url,
          oidcToken: { serviceAccountEmail: invoker.email, audience: fn.url },
        },
      },
      { ...o, dependsOn: a.services },
    );
    this.registerOutputs({ url: this.url });
  }
}
