/**
 * PoolAlerting: a cloud pool's own alerting, declared beside its fleet by the stack program
 * (index.ts). Observe sits above fleets, so the fleet components never reach up for it; the
 * definitions are pure (cloud.ts) and this component only declares them.
 */
import * as pulumi from "@pulumi/pulumi";
// Only the provider modules declared here: a provider's index loads all of its modules
// (@pulumi/aws ~0.1 s), and a GCP stack has no use for AWS's.
import * as cloudwatch from "@pulumi/aws/cloudwatch";
import * as sns from "@pulumi/aws/sns";
import * as monitoring from "@pulumi/gcp/monitoring";
import type { StackFile } from "../stacks/stack.schema";
import {
  bySeverity,
  NOTIFY_SECRET_KEYS,
  SEVERITIES,
  needsSecret,
  type AwsReceiver,
  type GcpReceiver,
  type Severity,
} from "../config/notify.schema";
import { fleetLabels } from "../fleets/labels";
import { POOL_ALERTING_TYPE } from "../../policy/contract/rules";
import { awsAlarms, gcpAlertPolicies, type PoolRef } from "./cloud";
import { awsDashboardBody, awsDashboardName } from "./cloudwatch-dashboard";
import { awsTargets, gcpTargets } from "./notify";

/**
 * The alert names a pool must carry: what the pack's pool-alerting policy checks, since a
 * published pack cannot read the SLO spec (GCP: each condition's alert rule; AWS: the
 * composite burn alarms and the drop alarms).
 */
export function requiredAlerts(ref: PoolRef, kind: "gcp" | "aws"): string[] {
  if (kind === "gcp") {
    return gcpAlertPolicies(ref).map(
      (p) => (p.args.conditions as { displayName: string }[])[0].displayName,
    );
  }
  const { alarms, composites } = awsAlarms(ref);
  return [
    ...composites.map((c) => String(c.args.alarmName)),
    ...alarms.filter((a) => !/-(page|ticket)-/.test(a.args.name)).map((a) => a.args.name),
  ];
}

type Secrets = Partial<Record<Severity, pulumi.Output<string>>>;

export interface PoolAlertingArgs {
  /** The pool and its media region, as the fleet spec names them. */
  ref: PoolRef;
  /**
   * Where the alerts' policies live: the fleet's cloud and its project or region, and where
   * each severity's alerts go (avfleet:fleet.alerting.notify; none: they notify no one, and
   * the pack's page-has-receiver policy refuses the stack).
   */
  cloud:
    | { kind: "gcp"; project: string; notify?: Record<Severity, GcpReceiver> }
    | { kind: "aws"; region: string; notify?: Record<Severity, AwsReceiver> };
  /** Each severity's receiver secret (avfleet:notify{Page,Ticket}Secret) when its receiver reads one. */
  secrets?: Secrets;
  /** The labels or tags of the topics and channels the pool creates (fleetLabels). */
  labels: Record<string, string>;
  /** Where runbook links point (`<base>#<alert>`); default README.md. */
  runbookBase?: string;
}

/** A secret the schema's checks promised: its absence here is a bug, not an input error. */
function secretOf(secrets: Secrets | undefined, severity: Severity): pulumi.Output<string> {
  const value = secrets?.[severity];
  if (!value) throw new Error(`PoolAlerting: the ${severity} receiver's secret was not passed`);
  return value;
}

export class PoolAlerting extends pulumi.ComponentResource {
  /** Names of the page-severity alerts declared, for the stack's outputs. */
  readonly alerts: string[];

  constructor(name: string, args: PoolAlertingArgs, opts?: pulumi.ComponentResourceOptions) {
    // Component inputs reach the policy pack: the pool and the alerts it must carry.
    super(
      POOL_ALERTING_TYPE,
      name,
      { pool: args.ref.pool, required: requiredAlerts(args.ref, args.cloud.kind) },
      opts,
    );
    const parent = { parent: this };
    const { cloud } = args;
    if (cloud.kind === "gcp") {
      const channels = cloud.notify && this.gcpChannels(name, cloud, args);
      const policies = gcpAlertPolicies(args.ref, args.runbookBase);
      for (const p of policies) {
        new monitoring.AlertPolicy(
          `${name}-${p.role}`,
          { ...p.args, project: cloud.project, notificationChannels: channels?.[p.severity] },
          parent,
        );
      }
      this.alerts = policies.map((p) => p.role);
    } else {
      const topics = cloud.notify && this.awsTopics(name, cloud, args);
      // OK too: a PagerDuty incident resolves when its alarm does
      const actions = (severity?: Severity) =>
        severity && topics
          ? { alarmActions: [topics[severity]], okActions: [topics[severity]] }
          : {};
      const { alarms, composites } = awsAlarms(args.ref, args.runbookBase);
      const byName = new Map<string, cloudwatch.MetricAlarm>();
      const alerts: pulumi.Output<string>[] = [];
      for (const a of alarms) {
        const alarm = new cloudwatch.MetricAlarm(
          `${name}-${a.role}`,
          { ...a.args, ...actions(a.severity), region: cloud.region },
          parent,
        );
        byName.set(a.args.name, alarm);
        if (a.severity) alerts.push(alarm.arn);
      }
      for (const c of composites) {
        const composite = new cloudwatch.CompositeAlarm(
          `${name}-${c.role}`,
          { ...c.args, ...actions(c.severity), region: cloud.region },
          // the rule names its member alarms: they must exist first
          { ...parent, dependsOn: c.alarms.map((n) => byName.get(n)!) },
        );
        alerts.push(composite.arn);
      }
      new cloudwatch.Dashboard(
        `${name}-dashboard`,
        {
          dashboardName: awsDashboardName(args.ref.pool),
          dashboardBody: pulumi
            .all(alerts)
            .apply((arns) => JSON.stringify(awsDashboardBody(args.ref, cloud.region, arns))),
          region: cloud.region,
        },
        parent,
      );
      this.alerts = [...alarms.map((a) => a.role), ...composites.map((c) => c.role)];
    }
    this.registerOutputs({ alerts: this.alerts });
  }

  /** Per severity, the names of the channels its policies notify. */
  private gcpChannels(
    name: string,
    cloud: { project: string; notify?: Record<Severity, GcpReceiver> },
    args: PoolAlertingArgs,
  ): Record<Severity, pulumi.Input<string>[]> {
    const targets = gcpTargets(args.ref.pool, args.labels, cloud.notify!);
    const names = (severity: Severity) => {
      const { channel, channels } = targets[severity];
      if (channel) return [channel];
      return channels.map((c) => {
        const secret = c.secret && secretOf(args.secrets, severity);
        const withSecret =
          c.secret === "serviceKey"
            ? { sensitiveLabels: { serviceKey: secret } }
            : c.secret === "url"
              ? { labels: { url: secret! } }
              : {};
        return new monitoring.NotificationChannel(
          `${name}-${c.role}`,
          { ...c.args, ...withSecret, project: cloud.project },
          { parent: this },
        ).name;
      });
    };
    return bySeverity(names);
  }

  /** Per severity, the ARN of the topic its alarms notify. */
  private awsTopics(
    name: string,
    cloud: { region: string; notify?: Record<Severity, AwsReceiver> },
    args: PoolAlertingArgs,
  ): Record<Severity, pulumi.Input<string>> {
    const targets = awsTargets(args.ref.pool, args.labels, cloud.notify!);
    const arn = (severity: Severity) => {
      const { topicArn, topic, subscriptions } = targets[severity];
      if (topicArn) return topicArn;
      const created = new sns.Topic(
        `${name}-${topic!.role}`,
        { ...topic!.args, region: cloud.region },
        { parent: this },
      );
      for (const s of subscriptions) {
        new sns.TopicSubscription(
          `${name}-${s.role}`,
          {
            ...s.args,
            endpoint: s.secret ? secretOf(args.secrets, severity) : s.args.endpoint!,
            topic: created.arn,
            region: cloud.region,
          },
          { parent: this },
        );
      }
      return created.arn;
    };
    return bySeverity(arn);
  }
}

/** A cloud fleet stack's alerting; metal stacks route their Prometheus rules by Alertmanager. */
export function declareAlerting(document: StackFile): PoolAlerting | undefined {
  const { config } = document;
  const spec = config["avfleet:fleet"];
  if (!spec || spec.kind === "metal") return undefined;
  const ref = {
    pool: spec.pool,
    mediaRegion: spec.mediaRegion,
    maxHosts: spec.maxHosts,
    minHosts: spec.minHosts,
  };
  const notify = spec.alerting?.notify;
  const cloud =
    spec.kind === "gcp"
      ? { kind: "gcp" as const, project: config["gcp:project"]!, notify: spec.alerting?.notify }
      : { kind: "aws" as const, region: config["aws:region"]!, notify: spec.alerting?.notify };
  const avfleet = new pulumi.Config("avfleet");
  const secrets: Secrets = {};
  for (const severity of SEVERITIES) {
    const receiver = notify?.[severity];
    if (receiver && needsSecret(receiver)) {
      secrets[severity] = avfleet.requireSecret(
        NOTIFY_SECRET_KEYS[severity].slice("avfleet:".length),
      );
    }
  }
  return new PoolAlerting(`${spec.pool}-alerting`, {
    ref,
    cloud,
    secrets,
    labels: fleetLabels(spec),
  });
}
