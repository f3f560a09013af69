/**
 * How long does a reviewer wait for `avfleet diff` on a one-stack change, against a full
 * preview of every stack? Both through the CLI, on a throwaway repository holding the whole
 * example estate: base = the estate as committed, head = one stack changed in the working tree.
 *
 * Cold: no cached Plans (every base stack evaluated, plus the changed one).
 * Warm: base Plans cached by an earlier run, as CI's cache of main provides; only the
 * changed stack is evaluated. The summary line reports the warm case.
 */
import { availableParallelism } from "node:os";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { listStacks } from "../modules/config/stack";
import { ROOT } from "../test/support/cli";
import { tempProject } from "../test/diff/project";

const line = (label: string, seconds: number, preview?: number) =>
  console.log(
    `  ${label.padEnd(48)} ${seconds.toFixed(2).padStart(6)} s${preview ? `  ratio ${(seconds / preview).toFixed(2)}` : ""}`,
  );

function timed(run: () => { code: number; stderr: string }, what: string): number {
  const started = process.hrtime.bigint();
  const result = run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${result.stderr}`);
  return seconds;
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
    line(`diff, cold cache (${stacks.length} base + 1 head evaluations)`, cold, preview);

    // Another edit of the same stack: its head Plan is new again, the base Plans are cached.
    change(124);
    const warm = timed(() => project.avfleet("diff", "--base", "HEAD"), "warm diff");
    line("diff, base Plans cached (1 evaluation)", warm, preview);
    const again = timed(() => project.avfleet("diff", "--base", "HEAD"), "repeat diff");
    line("the same diff again (0 evaluations)", again, preview);
    console.log(
      `diff: stacks=${stacks.length} seconds=${warm.toFixed(2)} full_preview_seconds=${preview.toFixed(2)} ratio=${(warm / preview).toFixed(2)}`,
    );
  } finally {
    project.dispose();
  }
}

main();
