/**
 * The Pulumi driver: the exact CLI calls a migration makes, and a runner that makes them
 * through zx (arguments quoted by zx, never a shell string). The rehearsal world answers the
 * same calls in-process, so plan, journal and tests all speak real Pulumi command lines.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fenceEnv, type FenceToken } from "./fence";
import type { Weights } from "./weights";

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `pulumi <args>`; never throws for a non-zero exit. `fence`: the lease the call is made
 * under, which the program checks at an update (fence.ts).
 */
export type PulumiRunner = (args: string[], fence?: FenceToken) => Promise<CliResult>;

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
  setConfig: (stack: string, path: string, value: number, configFile?: string) => [
    "config",
    "set",
    "--path",
    path,
    String(value),
    "--stack",
    stack,
    ...(configFile ? ["--config-file", configFile] : []),
  ],
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

/**
 * Which weight change a traffic stack's config is: the journal's entry that intended it (its
 * position, which only grows for a region's journal) and whether it is a rollback. The pack
 * refuses an update whose config is older than the change the stack last applied (a checkout
 * that missed a migration step), and never holds a rollback to the step rule
 * (policy/migration.ts).
 */
export interface WeightChange {
  seq: number | typeof PLANNED_SEQ;
  rollback: boolean;
}

/** The sequence as a plan shows it: known only once the change's intent is journaled. */
export const PLANNED_SEQ = "<seq>";

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
      ...(change
        ? ([
            [`${MIGRATION_PATH}.seq`, change.seq],
            [`${MIGRATION_PATH}.rollback`, change.rollback],
          ] as const)
        : []),
    ],
    configFile,
  );
}

/** A command line as an operator would type it (single quotes where a shell needs them). */
export function commandLine(args: string[]): string {
  return ["pulumi", ...args]
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(" ");
}

/** The last lines of a command's output: the part worth a journal entry. */
export function summarize(result: CliResult): string {
  const text = (result.exitCode === 0 ? result.stdout : `${result.stderr}\n${result.stdout}`)
    .trim()
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const tail = text.slice(-3).join(" | ");
  return tail.length > 400 ? `…${tail.slice(-400)}` : tail;
}

/**
 * The project root a stack directory belongs to: the nearest folder at or above it holding
 * Pulumi.yaml (`stackConfigDir: stacks` puts stack files one level below it), else its parent.
 */
export function projectRoot(stacksDir: string): string {
  for (let dir = resolve(stacksDir); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "Pulumi.yaml"))) return dir;
    if (dirname(dir) === dir) return dirname(resolve(stacksDir));
  }
}

/**
 * Flags on every call: the project is the runbook's, not the caller's working directory, and
 * the CLI never waits on a prompt or a terminal.
 */
export function globalArgs(root: string): string[] {
  return ["--cwd", root, "--non-interactive"];
}

/**
 * What the CLI says when another update holds the stack, per backend. Pulumi Cloud refuses to
 * start the update with `[409] Conflict: Another update is currently in progress.`
 * (pkg/backend/httpstate/backend.go:1825-1827, apitype/errors.go:72); a DIY backend (file, S3,
 * GCS, PostgreSQL) finds another process's lock file before `up`, `refresh`, `destroy` or
 * `import` (pkg/backend/diy/backend.go:1206, :1233, :1258, :1283) and fails with `the stack is
 * currently locked by N lock(s). Either wait … pulumi cancel` (pkg/backend/diy/lock.go:87).
 * The Automation API tells a concurrent update by these same two texts (sdk/go/auto/errors.go:
 * 50-52). Both exit 1 since CLI 3.227.0 (pkg/cmd/pulumi/cmd/exit_codes.go: neither is a typed
 * error), 255 before; only the text tells them from other failures.
 */
export const CONCURRENT_UPDATE = [
  { backend: "Pulumi Cloud", text: "[409] Conflict: Another update is currently in progress." },
  { backend: "DIY backend", text: "the stack is currently locked by" },
] as const;

/**
 * Which backend says another update holds the stack, or undefined. Retrying is right; `pulumi
 * cancel` would kill a live update (Cloud) or delete a live process's lock (DIY).
 */
export function concurrentUpdate(result: CliResult): string | undefined {
  if (result.exitCode === 0) return undefined;
  const output = `${result.stderr}\n${result.stdout}`;
  return CONCURRENT_UPDATE.find((c) => output.includes(c.text))?.backend;
}

/**
 * Bounded backoff while another update holds the stack: waits doubling from 2 s up to 60 s,
 * 10 retries (6 min 2 s in all: a traffic stack's `up` takes a minute or two), then the call
 * has failed.
 */
export const CONFLICT_RETRY = { retries: 10, firstDelayMs: 2_000, maxDelayMs: 60_000 };

/**
 * The real CLI: `PULUMI` or `pulumi` on PATH, through zx, run against the project at `root`. A
 * fenced call also carries the state's `location` and the lease to the program.
 */
export function cliPulumi(
  root: string,
  env: NodeJS.ProcessEnv = process.env,
  location?: string,
): PulumiRunner {
  const bin = env.PULUMI || "pulumi";
  return async (args, fence) => {
    const { $ } = await import("zx");
    const argv = [...globalArgs(root), ...args];
    const callEnv = fence && location ? { ...env, ...fenceEnv(location, fence) } : env;
    const result = await $({ env: callEnv, nothrow: true, quiet: true })`${bin} ${argv}`;
    return { exitCode: result.exitCode ?? 1, stdout: result.stdout, stderr: result.stderr };
  };
}
