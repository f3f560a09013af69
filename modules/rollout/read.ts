/**
 * What a real rollout learns of a pool before it acts, from the answers of the real tools:
 * the stack output `release` (what the program renders), the stack's `avfleet:rollout` (a
 * rollout under way keeps the `from` it started with), and where each host stands — a site's
 * from its state (`pulumi stack export`: the sha each host's command runs), a cloud pool's from
 * its group (gcloud list-instances, aws describe-auto-scaling-groups). Pure: each takes the
 * parsed answers and says what it found, or throws an Error saying what is wrong.
 */
import type { RolloutConfig } from "../config/rollout";
import { awsRollout, gcpRollout, templateName } from "../release/cloud-rollout";
import { appliedSha } from "../host-payloads/metal-payload";
import { releaseId } from "../release/intent";
import type { PoolRead } from "./units";

interface Common {
  stack: string;
  /** The fleet spec's pool: the label its hosts' series carry. */
  pool: string;
  drainSeconds: number;
  /** The stack output `release`. */
  release: Record<string, any> | undefined;
  /** The stack's `avfleet:rollout`, when it has one. */
  rollout?: RolloutConfig;
}

function rendered(c: Common): string {
  const id = c.release?.rendered;
  if (typeof id !== "string") {
    throw new Error(
      `${c.stack} outputs no release.rendered: run \`pulumi up -s ${c.stack}\` with this checkout first (it records the release and changes no host)`,
    );
  }
  return id;
}

/** A rollout of this very release under way: its `from` stands, whatever the group says now. */
function underWay(c: Common, id: string): RolloutConfig["from"] | undefined {
  return c.rollout?.release === id ? c.rollout.from : undefined;
}

const sha12 = (sha: string) => sha.slice(0, 12);

/** Each host's payload sha from a site's state: what its `<pool>-<host>-tune` command applies. */
export function stateShas(pool: string, exported: any): Map<string, string> {
  const shas = new Map<string, string>();
  for (const r of exported?.deployment?.resources ?? []) {
    if (r.type !== "command:local:Command") continue;
    const name = String(r.urn).split("::").at(-1)!;
    const sha = appliedSha(String(r.inputs?.create ?? ""));
    if (sha && name.startsWith(`${pool}-`) && name.endsWith("-tune")) {
      shas.set(name.slice(pool.length + 1, -"-tune".length), sha);
    }
  }
  return shas;
}

export function metalRead(
  c: Common & {
    pool: string;
    /** The inventory's active hosts. */
    hosts: { name: string; rack: string; class: string }[];
    /** `pulumi stack export`, parsed. */
    exported: unknown;
  },
): PoolRead {
  const id = rendered(c);
  const to: Record<string, string> = c.release?.classes ?? {};
  const shas = stateShas(c.pool, c.exported);
  let from = underWay(c, id);
  if (!from) {
    const classes: Record<string, string> = {};
    for (const h of c.hosts) {
      const sha = shas.get(h.name);
      if (!sha) continue; // a host no up has reached yet: it is created on the release
      if (classes[h.class] && classes[h.class] !== sha) {
        throw new Error(
          `${c.stack}: hosts of class ${h.class} run two payloads (${sha12(classes[h.class])}, ${sha12(sha)}): finish or roll back the rollout that left them so`,
        );
      }
      classes[h.class] = sha;
    }
    from = { id: releaseId(classes), classes };
  }
  const before = from.classes ?? {};
  const running = from.id ?? releaseId(before);
  if (running === id) throw new Error(`${c.stack}: every host runs ${id}; nothing to roll out`);
  return {
    stack: c.stack,
    pool: c.pool,
    kind: "metal",
    rendered: id,
    running,
    from,
    labels: {
      rendered: [...new Set(Object.values(to).map(sha12))].join("|"),
      running: [...new Set(Object.values(before).map(sha12))].join("|"),
    },
    hosts: c.hosts.map((h) => ({
      name: h.name,
      domain: h.rack,
      release: shas.get(h.name) === to[h.class] ? id : running,
    })),
    drainSeconds: c.drainSeconds,
  };
}

export function gcpRead(c: Common & { listInstances: unknown }): PoolRead {
  const id = rendered(c);
  const template = String(c.release?.template ?? "");
  const from = underWay(c, id) ?? { template: String(c.release?.running ?? "") };
  if (!from.template || templateName(from.template) === templateName(template)) {
    throw new Error(
      `${c.stack}: the group already points at ${id}'s template; nothing to roll out`,
    );
  }
  const running = templateName(from.template);
  return {
    stack: c.stack,
    pool: c.pool,
    kind: "gcp",
    rendered: id,
    running,
    from,
    labels: { rendered: templateName(template), running },
    hosts: gcpRollout.runningHosts(c.listInstances).map((h) => ({
      name: h.name,
      domain: h.zone,
      release: h.template && templateName(h.template) === templateName(template) ? id : running,
    })),
    drainSeconds: c.drainSeconds,
  };
}

export function awsRead(c: Common & { describeGroups: unknown }): PoolRead {
  const id = rendered(c);
  const version = Number(c.release?.version);
  const from = underWay(c, id) ?? { version: Number(c.release?.running) };
  if (!from.version || from.version === version) {
    throw new Error(`${c.stack}: the group already launches ${id}'s version; nothing to roll out`);
  }
  if (!(c.describeGroups as any)?.AutoScalingGroups?.length) {
    // A name that matches nothing is an empty answer, not an error, from AWS.
    throw new Error(`${c.stack}: aws describes no such Auto Scaling group`);
  }
  const running = `v${from.version}`;
  return {
    stack: c.stack,
    pool: c.pool,
    kind: "aws",
    rendered: id,
    running,
    from,
    labels: { rendered: `v${version}`, running },
    hosts: awsRollout
      .runningHosts(c.describeGroups)
      .filter((h) => h.state === "InService")
      .map((h) => ({ name: h.id, domain: h.zone, release: h.version === version ? id : running })),
    drainSeconds: c.drainSeconds,
  };
}
