/**
 * pool-alerting: every cloud pool brings its alerting — a PoolAlerting component for the pool
 * and each alert it names actually declared, judged from the stack's resources only (GCP: an
 * alert policy whose PromQL condition names the alert rule and the pool; AWS: the composite
 * burn alarms and the drop alarms). The pack is published alone, so the list of alerts comes
 * from the component's inputs (modules/alerting computes it from the SLO spec), not from the
 * spec itself.
 */
import type { PolicyResource } from "@pulumi/policy";
import { POOL_ALERTING_TYPE } from "./contract/rules";
import { withFacts, type StackPolicy } from "./policy";

const MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager";
const TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate";
const ASG = "aws:autoscaling/group:Group";

type Pool = { kind: "gcp" | "aws"; pool: string; urn: string };

/** Pools of the stack's cloud fleets (from the labels fleets must carry) and their groups. */
function pools(resources: PolicyResource[]): Pool[] {
  const out: Pool[] = [];
  const mig = resources.find((r) => r.type === MIG);
  if (mig) {
    for (const t of resources.filter((r) => r.type === TEMPLATE)) {
      if (t.props.labels?.pool) out.push({ kind: "gcp", pool: t.props.labels.pool, urn: mig.urn });
    }
  }
  for (const g of resources.filter((r) => r.type === ASG)) {
    const tag = (g.props.tags ?? []).find((t: { key: string }) => t.key === "pool");
    if (tag) out.push({ kind: "aws", pool: tag.value, urn: g.urn });
  }
  return [...new Map(out.map((p) => [`${p.kind}/${p.pool}`, p])).values()];
}

/** Alert rule names the stack's GCP policies declare for `pool`. */
function gcpDeclared(resources: PolicyResource[], pool: string): Set<string> {
  const names = resources
    .filter((r) => r.type === "gcp:monitoring/alertPolicy:AlertPolicy")
    .flatMap((r) => r.props.conditions ?? [])
    .map((c: any) => c.conditionPrometheusQueryLanguage)
    .filter((q: any) => q && String(q.query).includes(`pool="${pool}"`))
    .map((q: any) => q.alertRule);
  return new Set(names);
}

function awsDeclared(resources: PolicyResource[]): Set<string> {
  return new Set(
    resources
      .filter(
        (r) =>
          r.type === "aws:cloudwatch/compositeAlarm:CompositeAlarm" ||
          r.type === "aws:cloudwatch/metricAlarm:MetricAlarm",
      )
      .map((r) => r.props.alarmName ?? r.props.name),
  );
}

export const poolAlerting: StackPolicy = {
  name: "pool-alerting",
  description:
    "Every cloud pool declares its own alerting: each SLO burn alert (page and ticket) and host drop alert of modules/observe, for that pool.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "No stack-file key: avfleet's index.ts declares every pool's alerting (declareAlerting, modules/alerting/alerting.ts); a program that does not must call it. What pages go where is avfleet:fleet.alerting.",
  validateStack: (args, reportViolation) => {
    const found = pools(args.resources);
    if (found.length === 0) return args.notApplicable("no cloud pool");
    for (const { kind, pool, urn } of found) {
      const component = args.resources.find(
        (r) => r.type === POOL_ALERTING_TYPE && r.props.pool === pool,
      );
      if (!component) {
        reportViolation(`pool ${pool} declares no alerting (${POOL_ALERTING_TYPE})`, urn);
        continue;
      }
      const declared =
        kind === "gcp" ? gcpDeclared(args.resources, pool) : awsDeclared(args.resources);
      const missing = ((component.props.required ?? []) as string[]).filter(
        (name) => !declared.has(name),
      );
      if (missing.length > 0) {
        reportViolation(`pool ${pool} lacks alert(s): ${missing.join(", ")}`, urn);
      }
    }
  },
};

const ALARMS = [
  "aws:cloudwatch/metricAlarm:MetricAlarm",
  "aws:cloudwatch/compositeAlarm:CompositeAlarm",
];
const ALERT_POLICY = "gcp:monitoring/alertPolicy:AlertPolicy";

/**
 * Only how many receivers, never which: in a preview a new topic's ARN or channel's name is
 * unknown, and reading it would stop the whole policy (@pulumi/policy's unknownCheckingProxy).
 */
const count = (list: unknown): number => (Array.isArray(list) ? list.length : 0);

/** Why a page-severity alert reaches no one, or undefined when it reaches a receiver. */
function unrouted(r: PolicyResource): string | undefined {
  if (ALARMS.includes(r.type) && r.props.tags?.severity === "page") {
    if (r.props.actionsEnabled === false) return "has its actions disabled";
    if (count(r.props.alarmActions) === 0) return "has no alarmActions";
  }
  if (
    r.type === ALERT_POLICY &&
    (r.props.severity === "CRITICAL" || r.props.userLabels?.severity === "page") &&
    count(r.props.notificationChannels) === 0
  ) {
    return "has no notificationChannels";
  }
  return undefined;
}

export const pageHasReceiver: StackPolicy = {
  name: "page-has-receiver",
  description:
    "Every page-severity alert reaches a receiver: a CloudWatch alarm notifies an SNS topic (alarmActions), a GCP alert policy a notification channel, a bare-metal site's Alertmanager a page receiver (alerting.notify.page).",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Declare avfleet:fleet.alerting.notify.page (and .ticket) in the stack file, with its secret if the receiver reads one (docs/reference/observability.md, Where pages go).",
  validateStack: withFacts(({ fleet }, args, reportViolation, factsUrn) => {
    if (fleet?.kind === "metal") {
      if (!fleet.notify?.includes("page")) {
        reportViolation(
          `pool ${fleet.pool}'s page alerts (Prometheus rules, routed by Alertmanager) have no receiver: the stack declares no alerting.notify.page`,
          factsUrn,
        );
      }
      return;
    }
    const alerts = args.resources.filter((r) => ALARMS.includes(r.type) || r.type === ALERT_POLICY);
    if (alerts.length === 0) return args.notApplicable("no alarm or alert policy");
    for (const r of alerts) {
      const why = unrouted(r);
      if (why) reportViolation(`page-severity alert ${r.name} ${why}: it would page no one`, r.urn);
    }
  }),
};
