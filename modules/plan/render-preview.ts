/** Human preview of Plans: a resource tree per stack, grouped by component, and a summary. */
import type { Plan, PlanResource } from "./plan";

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
    lines.push(`${prefix}${branch}${r.name}  ${shortType(r.type)}`);
    const next = depth === 0 ? prefix : prefix + (last ? "   " : "│  ");
    const kids = children.get(r.urn) ?? [];
    kids.forEach((kid, i) => walk(kid, next, i === kids.length - 1, depth + 1));
  };
  for (const r of roots) walk(r, "  ", true, 0);
  return lines;
}

export function summarizePlan(plan: Plan): string {
  const custom = plan.resources.filter((r) => r.custom).length;
  const components = plan.resources.length - custom;
  const o = plan.outputs as Record<string, unknown>;
  const hosts = o.minHosts !== undefined ? ` · hosts ${o.minHosts}–${o.maxHosts}` : "";
  return `${plan.resources.length} resources to create (${custom} custom, ${components} component${components === 1 ? "" : "s"})${hosts}`;
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
export function previewJson(plans: Plan[]): unknown {
  return {
    stacks: plans.map((p) => ({
      name: p.name,
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
