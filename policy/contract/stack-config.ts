/**
 * The stack's own config, as the engine hands it to the pack, and the facts it implies.
 *
 * The CLI starts a policy pack with the stack's decrypted config in PULUMI_CONFIG, a JSON
 * object of `namespace:key` → string (a structured value JSON-encoded, as `pulumi config`
 * holds it): pulumi/pulumi 1b59498 pkg/resource/plugin/analyzer_plugin.go constructConfig
 * (1000-1016), fed by pkg/engine/update.go (lines 1101-1115: target.Config.Decrypt). So a pack
 * need not take the program's word for what the config says: StackFacts are checked against it.
 * The stack's name: see stackName.
 *
 * Like facts.ts this file imports nothing: the config schemas take their defaults from here.
 */

/**
 * Defaults the schemas fill in for facts a policy bounds: a config that leaves the key out
 * means this value, so a program cannot claim another one unseen.
 */
export const FACT_DEFAULTS = {
  maxStepPct: 25,
  drainSeconds: 1800,
  headroom: 0.3,
  routing: "weighted",
} as const;

/** Component types a stack's config asks the program to declare, by spec. */
export const TRAFFIC_SPLIT_TYPE = "avfleet:traffic:TrafficSplit";
export const FLEET_TYPES = {
  gcp: "avfleet:fleets:GcpFleet",
  aws: "avfleet:fleets:AwsFleet",
  metal: "avfleet:fleets:MetalFleet",
} as const;

/** Keys whose values StackFacts.settings must carry, string by string. */
export const SETTINGS_KEYS = [
  "gcp:project",
  "gcp:region",
  "aws:region",
  "avfleet:fleet",
  "avfleet:traffic",
  "avfleet:rollout",
] as const;

/**
 * The stack's config from the engine, or undefined when it passed none (a CLI older than
 * pulumi/pulumi#3612, or a pack started by hand); a value that is not a JSON object of strings
 * is treated as none rather than half-read.
 */
export function stackConfig(
  env: Record<string, string | undefined>,
): Record<string, string> | undefined {
  const raw = env.PULUMI_CONFIG;
  if (raw === undefined || raw === "") return undefined;
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
    const entries = Object.entries(parsed);
    return entries.every(([, v]) => typeof v === "string")
      ? Object.fromEntries(entries as [string, string][])
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The stack's short name as the engine hands it to a Node.js pack, or undefined if it did not.
 * Since CLI v3.221.0 (pulumi/pulumi#21684, commit 0f0fbfe0fb) a Node.js pack is started by the
 * nodejs language host, which sets PULUMI_NODEJS_STACK (with _ORGANIZATION, _PROJECT,
 * _DRY_RUN and PULUMI_CONFIG) but not PULUMI_STACK (sdk/nodejs/cmd/pulumi-language-nodejs/
 * main.go:1709-1739); PULUMI_STACK is set beside it only by constructEnv
 * (pkg/resource/plugin/analyzer_plugin.go:962-995), used only when no language plugin is found
 * (:164-201). So PULUMI_NODEJS_STACK first. PULUMI_STACK may also be the operator's own, which
 * the CLI reads to pick a stack (pkg/backend/state/stacks.go:81) and may be org/project/stack:
 * the engine's name is the short one on both backends (pkg/backend/diy/state.go:102-103,
 * pkg/backend/httpstate/state.go:275-277), so a qualified value counts by its last segment.
 */
export function stackName(env: Record<string, string | undefined>): string | undefined {
  const raw = [env.PULUMI_NODEJS_STACK, env.PULUMI_STACK].find((v) => v !== undefined && v !== "");
  return raw?.split("/").pop();
}

/** A structured config value (JSON-encoded by Pulumi), or undefined if absent or not JSON. */
export function structured(config: Record<string, string>, key: string): any {
  const raw = config[key];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/** Every string under `value` by key path, as StackFacts.settings names them. */
export function stringLeaves(value: unknown, path: string, into: Record<string, string>): void {
  if (typeof value === "string") into[path] = value;
  else if (Array.isArray(value)) value.forEach((v, i) => stringLeaves(v, `${path}[${i}]`, into));
  else if (value && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) stringLeaves(v, `${path}.${key}`, into);
  }
}
