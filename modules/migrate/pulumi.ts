/**
 * The Pulumi driver: a runner that makes a migration's CLI calls (modules/runbook/pulumi-args.ts)
 * through zx (arguments quoted by zx, never a shell string), and how it reads their results.
 * The rehearsal world answers the same calls in-process.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fenceEnv, type FenceToken } from "../migration-state/fence";

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `pulumi <args>`; never throws for a non-zero exit. `fence`: the lease the call is made
 * under, which the program checks at an update (modules/migration-state/fence.ts).
 */
export type PulumiRunner = (args: string[], fence?: FenceToken) => Promise<CliResult>;

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
 * A call's `--stack` as the backend needs it (executorStackName): plans and journals keep the
 * stack file's bare name; only the CLI sees the qualified one.
 */
export function withStackName(args: string[], stackName: (stack: string) => string): string[] {
  const at = args.indexOf("--stack");
  if (at < 0 || at + 1 >= args.length) return args;
  return [...args.slice(0, at + 1), stackName(args[at + 1]), ...args.slice(at + 2)];
}

/**
 * The real CLI: `PULUMI` or `pulumi` on PATH, through zx, run against the project at `root`. A
 * fenced call also carries the state's `location` and the lease to the program.
 */
export function cliPulumi(
  root: string,
  env: NodeJS.ProcessEnv = process.env,
  location?: string,
  stackName: (stack: string) => string = (stack) => stack,
): PulumiRunner {
  const bin = env.PULUMI || "pulumi";
  return async (args, fence) => {
    const { $ } = await import("zx");
    const argv = [...globalArgs(root), ...withStackName(args, stackName)];
    const callEnv = fence && location ? { ...env, ...fenceEnv(location, fence) } : env;
    const result = await $({ env: callEnv, nothrow: true, quiet: true })`${bin} ${argv}`;
    return { exitCode: result.exitCode ?? 1, stdout: result.stdout, stderr: result.stderr };
  };
}
