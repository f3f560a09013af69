/**
 * pool-alerting: every cloud pool brings its alerting — a PoolAlerting component for the pool
 * and each alert it names actually declared, judged from the stack's resources only (GCP: an
 * alert policy whose PromQL condition names the alert rule and the pool; AWS: the composite
 * burn alarms and the drop alarms). The pack is published alone, so the list of alerts comes
 * from the component's inputs (modules/observe computes it from the SLO spec), not from the
 * spec itself.
 */
import type { PolicyResource } from "@pulumi/policy";
import type { StackPolicy } from "./policy";

/** The component modules/observe/alerting.ts declares per cloud pool. */
export const POOL_ALERTING_TYPE = "avfleet:observe:PoolAlerting";

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
    "Declare the pool's alerting with declareAlerting(stack) (modules/observe/alerting.ts), as index.ts does.",
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
