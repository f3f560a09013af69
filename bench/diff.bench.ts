/**
 * How long does a reviewer wait for `avfleet diff` on a one-stack change, against a full
 * preview of every stack? Both through the CLI, on a throwaway repository holding the whole
 * example estate: base = the estate as committed, head = one stack changed in the working tree.
 *
 * Cold: no cached Plans (every base stack evaluated, plus the changed one and the traffic
 * stacks over it). Warm: base Plans cached by an earlier run, as CI's cache of main provides;
 * only the changed stack and the traffic over it are evaluated. The summary line reports the
 * warm case.
 */
import { availableParallelism } from "node:os";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { listStacks } from "../modules/stacks/stack";
import { ROOT } from "../test/support/cli";
import { tempProject } from "../test/diff/project";

interface Run {
  seconds: number;
  /** From the diff's progress: how many Plans it evaluated. */
  evaluated?: string;
}

function timed(run: () => { code: number; stderr: string }, what: string): Run {
  const started = process.hrtime.bigint();
  const result = run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${result.stderr}`);
  return { seconds, evaluated: /(\d+) evaluated\n/.exec(result.stderr)?.[1] };
}

function line(label: string, run: Run, preview?: Run): void {
  const what = run.evaluated === undefined ? label : `${label}: ${run.evaluated} evaluated`;
  const ratio = preview ? `  ratio ${(run.seconds / preview.seconds).toFixed(2)}` : "";
  console.log(`  ${what.padEnd(48)} ${run.seconds.toFixed(2).padStart(6)} s${ratio}`);
}

function main(): void {
  const project = tempProject();
  try {
    const stacks = listStacks(join(ROOT, "stacks"));
    for (const stack of stacks) project.writeStack(stack, stack);
    project.commit("the example estate");
    const changed = stacks.find((s) => s.startsWith("gcp-")) ?? stacks[0];
    const change = (maxHosts: number) =>
      project.writeStack(changed, changed, (doc) => {
        doc.config["avfleet:fleet"].maxHosts = maxHosts;
      });
    console.log(
      `diff bench: ${stacks.length} stacks, ${availableParallelism()} cores; change: ${changed} maxHosts`,
    );

    const preview = timed(() => project.avfleet("preview"), "preview");
    line("full preview (every stack evaluated)", preview);

    rmSync(join(project.dir, ".avfleet"), { recursive: true, force: true });
    change(123);
    const cold = timed(() => project.avfleet("diff", "--base", "HEAD"), "cold diff");
    line("diff, cold cache", cold, preview);

    // Another edit of the same stack: its head Plan is new again, the base Plans are cached.
    change(124);
    const warm = timed(() => project.avfleet("diff", "--base", "HEAD"), "warm diff");
    line("diff, base Plans cached", warm, preview);
    const again = timed(() => project.avfleet("diff", "--base", "HEAD"), "repeat diff");
    line("the same diff again", again, preview);
    console.log(
      `diff: stacks=${stacks.length} seconds=${warm.seconds.toFixed(2)} full_preview_seconds=${preview.seconds.toFixed(2)} ratio=${(warm.seconds / preview.seconds).toFixed(2)}`,
    );
  } finally {
    project.dispose();
  }
}

main();
