/**
 * PoolAlerting: a cloud pool's own alerting, declared beside its fleet by the stack program
 * (index.ts). Observe sits above fleets, so the fleet components never reach up for it; the
 * definitions are pure (cloud.ts) and this component only declares them.
 */
import * as pulumi from "@pulumi/pulumi";
// Only the provider modules declared here: a provider's index loads all of its modules
// (@pulumi/aws ~0.1 s), and a GCP stack has no use for AWS's.
import * as cloudwatch from "@pulumi/aws/cloudwatch";
import * as monitoring from "@pulumi/gcp/monitoring";
import type { StackFile } from "../config/stack.schema";
import { POOL_ALERTING_TYPE } from "../../policy/alerts";
import { awsAlarms, gcpAlertPolicies, type PoolRef } from "./cloud";

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

export interface PoolAlertingArgs {
  /** The pool and its media region, as the fleet spec names them. */
  ref: PoolRef;
  /** Where the alerts' policies live: the fleet's cloud and its project or region. */
  cloud: { kind: "gcp"; project: string } | { kind: "aws"; region: string };
  /** Where runbook links point (`<base>#<alert>`); default README.md. */
  runbookBase?: string;
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
      const policies = gcpAlertPolicies(args.ref, args.runbookBase);
      for (const p of policies) {
        new monitoring.AlertPolicy(
          `${name}-${p.role}`,
          { ...p.args, project: cloud.project },
          parent,
        );
      }
      this.alerts = policies.map((p) => p.role);
    } else {
      const { alarms, composites } = awsAlarms(args.ref, args.runbookBase);
      const byName = new Map<string, cloudwatch.MetricAlarm>();
      for (const a of alarms) {
        byName.set(
          a.args.name,
          new cloudwatch.MetricAlarm(
            `${name}-${a.role}`,
            { ...a.args, region: cloud.region },
            parent,
          ),
        );
      }
      for (const c of composites) {
        new cloudwatch.CompositeAlarm(
          `${name}-${c.role}`,
          { ...c.args, region: cloud.region },
          // the rule names its member alarms: they must exist first
          { ...parent, dependsOn: c.alarms.map((n) => byName.get(n)!) },
        );
      }
      this.alerts = [...alarms.map((a) => a.role), ...composites.map((c) => c.role)];
    }
    this.registerOutputs({ alerts: this.alerts });
  }
}

/** A cloud fleet stack's alerting; metal and traffic stacks rely on the Prometheus rules. */
export function declareAlerting(document: StackFile): PoolAlerting | undefined {
  const { config } = document;
  const spec = config["avfleet:fleet"];
  if (!spec || spec.kind === "metal") return undefined;
  const ref = { pool: spec.pool, mediaRegion: spec.mediaRegion };
  const cloud =
    spec.kind === "gcp"
      ? { kind: "gcp" as const, project: config["gcp:project"]! }
      : { kind: "aws" as const, region: config["aws:region"]! };
  return new PoolAlerting(`${spec.pool}-alerting`, { ref, cloud });
}
