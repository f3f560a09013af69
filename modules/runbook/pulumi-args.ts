/**
 * The Pulumi CLI calls a runbook's steps make, as argument lists: what a plan shows, what the
 * journal records and what the driver (modules/migrate/pulumi.ts) runs, so plan, journal and
 * tests all speak real Pulumi command lines.
 */
import type { Weights } from "./weights";

/**
 * Where the policy pack is, from the project root (`--cwd`): every `up` runs it, so a stack
 * whose org enforces no pack (any DIY backend) is judged all the same. Stack policies run after
 * the update phase (pulumi/pulumi pkg/resource/deploy/deployment_executor.go:350 waits for the
 * steps, :406-410 then analyzes the stack), so what stops a bad update is the preview `up`
 * runs first: never `--skip-preview` (`-f`, pkg/cmd/pulumi/operations/up.go:902).
 */
export const POLICY_PACK = "policy";

export const pulumiArgs = {
  outputs: (stack: string) => ["stack", "output", "--json", "--stack", stack],
  up: (stack: string) => [
    "up",
    "--yes",
    "--refresh",
    "--policy-pack",
    POLICY_PACK,
    "--stack",
    stack,
  ],
  /** What --dry-run runs instead of `up`, against a copy of the stack's config. */
  preview: (stack: string, configFile: string) => [
    "preview",
    "--refresh",
    "--diff",
    "--stack",
    stack,
    "--config-file",
    configFile,
  ],
  policies: (stack: string) => ["preview", "--policy-pack", POLICY_PACK, "--stack", stack],
  destroy: (stack: string) => ["destroy", "--yes", "--stack", stack],
  destroyPreview: (stack: string) => ["destroy", "--preview-only", "--stack", stack],
  /**
   * Several `--path` values in one call: the CLI loads the stack file once, sets each and saves
   * once (pulumi/pulumi pkg/cmd/pulumi/config/config.go:976-987, :1083), so no `up` ever sees
   * half of them. An integer or true/false is stored as one (sdk/go/common/resource/config/
   * map.go:239 coerceObject, object.go:566 coerce).
   */
  setAll: (
    stack: string,
    values: (readonly [string, number | boolean | string])[],
    configFile?: string,
  ) => [
    "config",
    "set-all",
    "--path",
    ...values.flatMap(([path, value]) => ["--plaintext", `${path}=${value}`]),
    "--stack",
    stack,
    ...(configFile ? ["--config-file", configFile] : []),
  ],
};

/**
 * Whether a call changes a stack: `up`, `destroy`, or a `config set` of the stack's own config
 * file (the next `up` anyone runs applies it). A preview, an output read or a `config set`
 * into a copy (`--config-file`, dry runs) changes nothing. `args` as given to the CLI, no
 * leading `pulumi`.
 */
export function changesStack(args: string[]): boolean {
  const [verb, sub] = args;
  if (verb === "up") return true;
  if (verb === "destroy") return !args.includes("--preview-only");
  return (
    verb === "config" && (sub === "set" || sub === "set-all") && !args.includes("--config-file")
  );
}

export const MIN_HOSTS_PATH = "avfleet:fleet.minHosts";

export const FLEET_MIGRATION_PATH = "avfleet:fleet.migration";

/**
 * Which change a stack's config is (a traffic stack's weights, a fleet stack's minHosts): the journal's entry that intended it (its
 * position, which only grows for a region's journal) and whether it is a rollback. The pack
 * refuses an update whose config is older than the change the stack last applied (a checkout
 * that missed a migration step), and never holds a rollback to the step rule
 * (policy/migration.ts).
 */
export interface WeightChange {
  seq: number | typeof PLANNED_SEQ;
  rollback: boolean;
  /**
   * When the executor wrote the change (UTC, ISO 8601): a pool's minHosts carries it, so an AWS
   * pool with scheduled floors sets its group's minimum at the up (#28).
   */
  at?: string | typeof PLANNED_AT;
}

/** The sequence as a plan shows it: known only once the change's intent is journaled. */
export const PLANNED_SEQ = "<seq>";

/** A change's time as a plan shows it: the executor's clock when it writes the change. */
export const PLANNED_AT = "<now>";

export const MIGRATION_PATH = "avfleet:traffic.migration";

/**
 * One `config set-all` for a weight change: every pool's weight and the change's marker, in one
 * write of the stack file, so the weights of every pool sum to 100 whenever anyone runs `up`.
 * No marker for a throwaway copy (dry runs): nothing is recorded for it to order.
 */
export function setWeightsArgs(
  traffic: string,
  pools: string[],
  weights: Weights,
  change: WeightChange | undefined,
  configFile?: string,
): string[] {
  return pulumiArgs.setAll(
    traffic,
    [
      ...pools.map((pool, i): [string, number] => [
        `avfleet:traffic.pools[${i}].weight`,
        weights[pool] ?? 0,
      ]),
      ...markerValues(MIGRATION_PATH, change),
    ],
    configFile,
  );
}

/** A change's marker as `set-all` values under `path`; none for a throwaway copy. */
function markerValues(path: string, change: WeightChange | undefined) {
  return change
    ? ([
        [`${path}.seq`, change.seq],
        [`${path}.rollback`, change.rollback],
        ...(change.at ? [[`${path}.at`, change.at] as const] : []),
      ] as const)
    : [];
}

/**
 * One `config set-all` for a pool's minHosts and the change's marker (#30): a scale step or a
 * floor raised before a shift. The pack's fleet-migration-order then refuses a deploy of the
 * pool from a checkout without it, which would lower its hosts under a running migration.
 */
export function setMinHostsArgs(
  stack: string,
  minHosts: number,
  change: WeightChange | undefined,
  configFile?: string,
): string[] {
  return pulumiArgs.setAll(
    stack,
    [[MIN_HOSTS_PATH, minHosts], ...markerValues(FLEET_MIGRATION_PATH, change)],
    configFile,
  );
}

/** A command line as an operator would type it (single quotes where a shell needs them). */
export function commandLine(args: string[]): string {
  return ["pulumi", ...args]
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(" ");
}
