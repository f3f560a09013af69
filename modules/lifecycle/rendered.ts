/**
 * A pool as the providers and its hosts receive it: the resources' inputs (a Plan's) and the
 * files the host bootstrap installs, read back out of the bytes each platform is handed — the
 * GCP startup-script, the AWS pool's payload object (its user-data fetches it), a bare-metal host class's
 * payload (declared once per site, copied to its hosts by sha256). The lifecycle simulation
 * judges these, never the fleet spec they came from.
 */
import { METAL_PAYLOAD_TYPE } from "../../policy/contract/rules";

/** A resource as the program registers it (a Plan's resources have this shape). */
export interface RenderedResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
  ignoreChanges?: string[];
  retainOnDelete?: boolean;
}

export interface RenderedPool {
  kind: "gcp" | "aws" | "metal";
  /** The component's name: the pool. */
  pool: string;
  /** The pool's resources (the component's children). */
  resources: RenderedResource[];
  /** path → content of every file the host's bootstrap installs. */
  files: Map<string, string>;
  /** The host agent's configuration (/etc/avfleet/agent.json) as installed. */
  agent: AgentJson;
}

/** What the simulation reads of the agent's configuration. */
export interface AgentJson {
  platform: string;
  pool: string;
  drainSeconds: number;
  intervalSec: number;
  health: { port: number; path: string; livenessPath?: string };
  lifecycleHook?: string;
  launch?: { hook: string; heartbeatSec: number; limitSec: number };
  /** AWS: seconds between the agent's heartbeats of the drain hook (absent: every tick). */
  drainHeartbeatSec?: number;
}

export const AGENT_CONFIG_FILE = "/etc/avfleet/agent.json";
export const AGENT_FILE = "/usr/local/sbin/avfleet-agent";
/** Where the bootstrap puts the agent's package (avfleet_agent), which AGENT_FILE runs. */
export const AGENT_LIB_DIR = "/usr/local/lib/avfleet-agent";

const FLEETS: Record<string, RenderedPool["kind"]> = {
  "avfleet:fleets:GcpFleet": "gcp",
  "avfleet:fleets:AwsFleet": "aws",
  "avfleet:fleets:MetalFleet": "metal",
};

/** The `put PATH MODE <<'END'` blocks of a bootstrap script: the files it installs. */
export function bootstrapFiles(script: string): Map<string, string> {
  const files = new Map<string, string>();
  const re = /^put '?([^'\s]+)'? [0-7]{4} <<'([A-Z_]+)'\n([\s\S]*?)^\2$/gm;
  for (const m of script.matchAll(re)) files.set(m[1], m[3]);
  return files;
}

/** A bare-metal payload's `base64 -d <<'END' | install ... PATH` blocks. */
export function payloadFiles(payload: string): Map<string, string> {
  const files = new Map<string, string>();
  const re = /^base64 -d <<'([A-Z0-9_]+)' \|.*'([^']+)'\n([\s\S]*?)^\1$/gm;
  for (const m of payload.matchAll(re)) {
    files.set(m[2], Buffer.from(m[3].replace(/\s/g, ""), "base64").toString("utf8"));
  }
  return files;
}

/** The bootstrap script each platform is handed. */
function bootstrapOf(kind: RenderedPool["kind"], resources: RenderedResource[]): string {
  if (kind === "gcp") {
    const template = resources.find(
      (r) => r.type === "gcp:compute/instanceTemplate:InstanceTemplate",
    );
    return String(template?.inputs.metadataStartupScript ?? "");
  }
  if (kind === "aws") {
    // The object the launch template's user-data fetches (modules/host/boot-stub.ts).
    const payload = resources.find((r) => r.type === "aws:s3/bucketObjectv2:BucketObjectv2");
    return String(payload?.inputs.content ?? "");
  }
  // Every active host of a site gets the same bootstrap; a draining one only a drain request.
  for (const payload of resources.filter((r) => r.type === METAL_PAYLOAD_TYPE)) {
    const script = [...payloadFiles(String(payload.inputs.payload ?? "")).values()].find((f) =>
      f.includes("# avfleet-bootstrap pool="),
    );
    if (script) return script;
  }
  return "";
}

/** The pools of a stack's resources, each with its children and its hosts' files. */
export function renderedPools(
  resources: (RenderedResource & { urn?: string; parent?: string })[],
): RenderedPool[] {
  const parents = new Map(resources.map((r) => [r.urn, r.parent]));
  const descends = (r: { parent?: string }, ancestor: string) => {
    for (let p = r.parent; p; p = parents.get(p)) if (p === ancestor) return true;
    return false;
  };
  return resources
    .filter((r) => FLEETS[r.type])
    .map((fleet) => {
      const kind = FLEETS[fleet.type];
      const children = resources.filter((r) => descends(r, fleet.urn!));
      return hostPool(kind, fleet.name, children, bootstrapOf(kind, children));
    });
}

/** A pool from its resources and the bootstrap script its hosts run. */
export function hostPool(
  kind: RenderedPool["kind"],
  pool: string,
  resources: RenderedResource[],
  bootstrap: string,
): RenderedPool {
  const files = bootstrapFiles(bootstrap);
  const config = files.get(AGENT_CONFIG_FILE);
  if (!config) throw new Error(`${pool}: no ${AGENT_CONFIG_FILE} in the rendered bootstrap`);
  return { kind, pool, resources, files, agent: JSON.parse(config) as AgentJson };
}

/** The pool's one resource of `type` (its inputs), or undefined. */
export function inputsOf(pool: RenderedPool, type: string): Record<string, any> | undefined {
  return resourceOf(pool, type)?.inputs;
}

export function resourceOf(pool: RenderedPool, type: string): RenderedResource | undefined {
  return pool.resources.find((r) => r.type === type);
}

/** The resource a mock or real id names: offline ids are `<name>-<hash>`, real ones self links. */
export function byId(pool: RenderedPool, id: string): RenderedResource | undefined {
  return pool.resources
    .filter((r) => id === r.name || id.startsWith(`${r.name}-`) || id.endsWith(`/${r.name}`))
    .sort((a, b) => b.name.length - a.name.length)[0];
}
