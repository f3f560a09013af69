/**
 * What every avfleet command shares: argument parsing with --help, the exit-code contract,
 * and turning bad input into `<file>: <key path>: <what>, expected <what>` + exit 2.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { InputError } from "../modules/inputs/problems";
import { listStacks, loadStacks } from "../modules/stacks/stack";
import { evaluateStacks, type Loader } from "../modules/evaluation/evaluate";
import type { Plan } from "../modules/plan/plan";

/** Exit codes mean the same for every command. */
export const EXIT = {
  ok: 0,
  /** The command worked and found something wrong: violations, drift, a failed gate. */
  findings: 1,
  /** Bad input or usage: nothing was evaluated, written or run. */
  badInput: 2,
  /** Something outside the input failed: a stack's evaluation crashed, a tool failed. */
  failure: 3,
} as const;

export const EXIT_CODES_HELP = `Exit codes: 0 ok, 1 findings (violations, drift, failed gates), 2 bad input or usage (nothing done), 3 failure of a tool or evaluation.`;

export interface Command {
  /** One line for `avfleet --help`. */
  summary: string;
  /** The whole `avfleet <command> --help` text. */
  help: string;
  run(argv: string[]): Promise<number>;
}

/** A usage mistake; reported like bad input (exit 2). */
export class UsageError extends InputError {
  constructor(message: string) {
    super([`usage: ${message} (see --help)`]);
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** node's parseArgs in strict mode; `--help` is always accepted. Throws UsageError. */
export function parseCommandArgs<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Runs a command and maps its errors onto the exit-code contract. */
export async function runCommand(command: Command, argv: string[]): Promise<number> {
  try {
    return await command.run(argv);
  } catch (err) {
    if (err instanceof InputError) {
      for (const line of err.lines) process.stderr.write(`${line}\n`);
      return EXIT.badInput;
    }
    // An evaluation failure already carries the program's own error; its stack adds nothing.
    const error = err as Error;
    process.stderr.write(
      `error: ${error.name === "EvaluationError" ? error.message : (error.stack ?? String(err))}\n`,
    );
    return EXIT.failure;
  }
}

/** Progress goes to stderr so that stdout stays clean for --json and Markdown. */
export function progress(line: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
  else process.stderr.write(`${line}\n`);
}

export function progressDone(): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K`);
}

/**
 * The stacks a command names (all of `dir` when none), every file validated before any is
 * evaluated, then evaluated with progress on stderr.
 */
export async function evaluateNamedStacks(
  names: string[],
  dir: string,
  loader: Loader = "bundle",
): Promise<{ names: string[]; plans: Plan[] }> {
  const available = listStacks(dir);
  const unknown = names.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown stack ${unknown.join(", ")}; stacks in ${dir}: ${available.join(", ")}`,
    );
  }
  const selected = names.length ? names : available;
  const stacks = { count: selected.length, load: () => loadStacks(dir, selected) };
  const plans = await evaluateStacks(stacks, {
    loader,
    onPlan: (plan, done, total) => progress(`evaluated ${done}/${total}: ${plan.name}`),
  });
  progressDone();
  return { names: selected, plans };
}
