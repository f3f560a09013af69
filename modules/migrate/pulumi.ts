/**
 * The Pulumi driver: the exact CLI calls a migration makes, and a runner that makes them
 * through zx (arguments quoted by zx, never a shell string). The rehearsal world answers the
 * same calls in-process, so plan, journal and tests all speak real Pulumi command lines.
 */
import type { Weights } from "./weights";

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `pulumi <args>`; never throws for a non-zero exit. */
export type PulumiRunner = (args: string[]) => Promise<CliResult>;

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

/** The real CLI: `PULUMI` or `pulumi` on PATH, through zx. */
export function cliPulumi(env: NodeJS.ProcessEnv = process.env): PulumiRunner {
  const bin = env.PULUMI || "pulumi";
  return async (args) => {
    const { $ } = await import("zx");
    const result = await $({ env, nothrow: true, quiet: true })`${bin} ${args}`;
    return { exitCode: result.exitCode ?? 1, stdout: result.stdout, stderr: result.stderr };
  };
}
