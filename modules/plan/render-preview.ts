/** Human preview of Plans: a resource tree per stack, grouped by component, and a summary. */
import type { Plan, PlanResource } from "./plan";
import { formatLeaveLine, leaveLines } from "../lifecycle/leave";
import type { ReleaseOutput } from "../release/intent";

function shortType(type: string): string {
  // gcp:compute/instanceTemplate:InstanceTemplate → gcp:compute:InstanceTemplate
  const [pkg, module, name] = type.split(":");
  return name ? `${pkg}:${module.split("/")[0]}:${name}` : type;
}

function tree(plan: Plan): string[] {
  const children = new Map<string | undefined, PlanResource[]>();
  for (const r of plan.resources) {
    const siblings = children.get(r.parent) ?? [];
    siblings.push(r);
    children.set(r.parent, siblings);
  }
  const known = new Set(plan.resources.map((r) => r.urn));
  // Resources whose parent is outside the Plan (the stack itself) sit at the root.
  const roots = plan.resources.filter((r) => !r.parent || !known.has(r.parent));
  const lines: string[] = [];
  const walk = (r: PlanResource, prefix: string, last: boolean, depth: number) => {
    const branch = depth === 0 ? "" : last ? "└─ " : "├─ ";
    const adopted = r.importId ? "  (import)" : "";
    lines.push(`${prefix}${branch}${r.name}  ${shortType(r.type)}${adopted}`);
    const next = depth === 0 ? prefix : prefix + (last ? "   " : "│  ");
    const kids = children.get(r.urn) ?? [];
    kids.forEach((kid, i) => walk(kid, next, i === kids.length - 1, depth + 1));
  };
  for (const r of roots) walk(r, "  ", true, 0);
  return lines;
}

const usd = (n: number) => `$${Math.round(n).toLocaleString("en-US")}`;

/** Weights, hosts, capacity against demand, monthly cost: what a decision on a stack needs. */
export function economicsLines(plan: Plan): string[] {
  const o = plan.outputs as Record<string, any>;
  const lines: string[] = [];
  if (o.weights) {
    const weights = Object.entries(o.weights as Record<string, number>)
      .map(([pool, weight]) => `${pool} ${weight}`)
      .join(" · ");
    lines.push(`weights: ${weights} (${o.recordName}, TTL ${o.ttl} s)`);
  }
  if (o.hosts) {
    lines.push(
      `hosts: ${o.hosts.active} active, ${o.hosts.draining} draining, ${o.hosts.retired} retired`,
    );
  } else if (o.minHosts !== undefined) {
    lines.push(`hosts: ${o.minHosts}–${o.maxHosts}`);
  }
  if (o.scaling) lines.push(`scaling: ${o.scaling}`);
  if (o.provisioning) {
    const { user, privilege, sudoers } = o.provisioning;
    // sshd runs the command with the login's shell, in its home (where the payload's log goes).
    const login = `as ${user} (a POSIX login shell and a writable home)`;
    lines.push(
      privilege === "root"
        ? `provisioning: ${login}`
        : `provisioning: ${login} through sudo -n; every host needs in /etc/sudoers.d/avfleet: ${sudoers}`,
    );
  }
  if (o.host) {
    lines.push(`host: ${o.host.workload} · ${o.host.agent} · drain ${o.host.drain}`);
  }
  if (o.release) lines.push(releaseLine(o.release));
  const { capacity, cost } = plan;
  if (capacity) {
    const verdict =
      capacity.shortfallHosts > 0
        ? `SHORTFALL: ${capacity.shortfallHosts} hosts short`
        : "covers demand";
    lines.push(
      `capacity: ${capacity.capacityStreams.toLocaleString("en-US")} streams for a demand of ${capacity.demandStreams.toLocaleString("en-US")} (headroom incl.); ${capacity.hostsRequired} hosts needed with N+1 → ${verdict}`,
    );
  }
  if (cost) {
    const compute =
      cost.computeMonthlyUsd.min === cost.computeMonthlyUsd.max
        ? usd(cost.computeMonthlyUsd.min)
        : `${usd(cost.computeMonthlyUsd.min)}–${usd(cost.computeMonthlyUsd.max)}`;
    const share =
      cost.trafficShare < 1
        ? ` (${Math.round(cost.trafficShare * 100)} % of the region's traffic)`
        : "";
    lines.push(`cost/month: compute ${compute} · egress ${usd(cost.egressMonthlyUsd)}${share}`);
  }
  return lines;
}

/**
 * A pool's release: what this up renders, and whether it reaches any host. A site's output
 * names its host classes; a cloud pool's its template or launch template version
 * (modules/fleets gcp.ts, aws.ts).
 */
function releaseLine(
  release: Omit<ReleaseOutput, "classes" | "rollout"> & {
    classes?: ReleaseOutput["classes"];
    template?: string;
    version?: number;
    rollout?: Omit<NonNullable<ReleaseOutput["rollout"]>, "batches"> & { batches?: number };
  },
): string {
  const { rendered, rollout } = release;
  const classes = Object.keys(release.classes ?? {}).length;
  const what = release.classes
    ? `${classes} host class${classes === 1 ? "" : "es"}`
    : release.template
      ? `template ${release.template.split("?")[0].split("/").at(-1)}`
      : `launch template version ${release.version}`;
  const head = `release: ${rendered} (${what})`;
  if (!rollout) return `${head}; no rollout: an up records it and changes no existing host`;
  if (rollout.release !== rendered) {
    return `${head}; the rollout is of ${rollout.release}: an up records ${rendered} and changes no existing host`;
  }
  const draining = rollout.draining >= 0 ? `batch ${rollout.draining} draining` : "none draining";
  const of = rollout.batches === undefined ? "" : ` of ${rollout.batches}`;
  return `${head}; rollout: ${rollout.updated}${of} batches on it (the canary is batch 0), ${draining}`;
}

/** How the pool's hosts leave, fail and update, as its rendering meets the providers' rules. */
function leavingLines(plan: Plan): string[] {
  const lines = leaveLines(plan.resources);
  if (!lines.length) return [];
  return ["    how hosts leave (npm run bench:lifecycle for the whole matrix):"].concat(
    lines.map((l) => `      ${formatLeaveLine(l)}`),
  );
}

export function summarizePlan(plan: Plan): string {
  const custom = plan.resources.filter((r) => r.custom).length;
  const components = plan.resources.length - custom;
  const imported = plan.resources.filter((r) => r.importId).length;
  const adopted = imported ? `, ${imported} of them adopted by import` : "";
  return `${plan.resources.length} resources to create (${custom} custom, ${components} component${components === 1 ? "" : "s"})${adopted}`;
}

export function renderPreview(plans: Plan[], seconds: number): string {
  const out: string[] = [];
  for (const plan of plans) {
    const o = plan.outputs as Record<string, unknown>;
    const where = [
      o.kind,
      o.mediaRegion && `media region ${o.mediaRegion}`,
      o.pool && `pool ${o.pool}`,
    ]
      .filter(Boolean)
      .join(" · ");
    out.push(
      `${plan.name}${where ? `  (${where})` : ""}`,
      ...tree(plan),
      `  = ${summarizePlan(plan)}`,
      ...economicsLines(plan).map((line) => `    ${line}`),
      ...leavingLines(plan),
      "",
    );
  }
  const total = plans.reduce((n, p) => n + p.resources.length, 0);
  out.push(
    `preview: ${plans.length} stacks, ${total} resources, ${seconds.toFixed(1)} s (offline, Pulumi mocks)`,
  );
  return `${out.join("\n")}\n`;
}

/** The `--json` document. */
/** The levels of previewJson's document opened piece by piece: stacks, a stack, its resources. */
export const PREVIEW_JSON_DEPTH = 4;

export function previewJson(plans: Plan[]): unknown {
  return {
    stacks: plans.map((p) => ({
      name: p.name,
      ...(p.capacity ? { capacity: p.capacity, cost: p.cost } : {}),
      lifecycle: leaveLines(p.resources),
      resources: p.resources.map(({ urn, type, name, parent, inputs }) => ({
        urn,
        type,
        name,
        parent,
        inputs,
      })),
      outputs: p.outputs,
    })),
  };
}

/**
 * `JSON.stringify(value, null, 2)` in pieces, the containers of the first `depth` levels opened
 * here and what lies below them stringified whole: a 20,000-host site's preview is about
 * 1.9 GB of JSON, more than one string may hold.
 */
export function* jsonPieces(value: unknown, depth: number, indent = ""): Generator<string> {
  const open = value !== null && typeof value === "object" && depth > 0;
  const entries = !open
    ? []
    : Array.isArray(value)
      ? value.map((v) => [undefined, v === undefined ? null : v] as const)
      : Object.entries(value).filter(([, v]) => v !== undefined && typeof v !== "function");
  if (!open || entries.length === 0) {
    yield JSON.stringify(value, null, 2).replace(/\n/g, `\n${indent}`);
    return;
  }
  const inner = `${indent}  `;
  yield Array.isArray(value) ? "[" : "{";
  for (let i = 0; i < entries.length; i++) {
    const [key, v] = entries[i];
    yield `${i === 0 ? "" : ","}\n${inner}${key === undefined ? "" : `${JSON.stringify(key)}: `}`;
    yield* jsonPieces(v, depth - 1, inner);
  }
  yield `\n${indent}${Array.isArray(value) ? "]" : "}"}`;
}
