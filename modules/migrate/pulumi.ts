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

export const pulumiArgs = {
  outputs: (stack: string) => ["stack", "output", "--json", "--stack", stack],
  up: (stack: string) => ["up", "--yes", "--refresh", "--stack", stack],
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
  policies: (stack: string) => ["preview", "--policy-pack", "policy", "--stack", stack],
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
  return verb === "config" && sub === "set" && !args.includes("--config-file");
}

export const MIN_HOSTS_PATH = "avfleet:fleet.minHosts";

/** One `config set` per pool, so the weights of every pool sum to 100 after `up`. */
export function setWeightsArgs(
  traffic: string,
  pools: string[],
  weights: Weights,
  configFile?: string,
): string[][] {
  return pools.map((pool, i) =>
    pulumiArgs.setConfig(
      traffic,
      `avfleet:traffic.pools[${i}].weight`,
      weights[pool] ?? 0,
      configFile,
    ),
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
 * `[409] Conflict: Another update is currently in progress.`: another update holds the stack
 * (exit 255, like any error). Retrying is right; `pulumi cancel` would kill a live update.
 */
export function isConflict(result: CliResult): boolean {
  return result.exitCode !== 0 && /\[409\] Conflict/.test(`${result.stderr}\n${result.stdout}`);
}

/** Bounded backoff for a 409: waits of 2, 4, 8 and 16 s, then the conflict is a failure. */
export const CONFLICT_RETRY = { attempts: 5, firstDelayMs: 2_000 };

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
