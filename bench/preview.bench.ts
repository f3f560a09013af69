/**
 * How fast is the offline preview, against the floor the Pulumi SDK itself sets?
 * Prints seconds per stack and ms per resource for every example stack, beside the time the
 * SDK takes to register as many bare custom resources under mocks in one process.
 */
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { DEFAULT_STACKS_DIR, listStacks, loadStacks } from "../modules/config/stack";
import { evaluateStack, evaluateStacks } from "../modules/plan/evaluate";

function floorMs(count: number): number {
  const out = execFileSync(
    process.execPath,
    ["--import", "tsx", `${__dirname}/sdk-floor.ts`, String(count)],
    {
      encoding: "utf8",
    },
  );
  return (JSON.parse(out) as { ms: number }).ms;
}

async function main(): Promise<void> {
  const stacks = loadStacks(DEFAULT_STACKS_DIR, listStacks());
  console.log(`preview bench: ${stacks.length} stacks, ${availableParallelism()} cores`);

  console.log("\nper stack, one at a time (process start + program + mocks):");
  for (const stack of stacks) {
    const started = Date.now();
    const plan = await evaluateStack(stack);
    const ms = Date.now() - started;
    console.log(
      `  ${stack.name.padEnd(20)} ${(ms / 1000).toFixed(2)} s  ${String(plan.resources.length).padStart(6)} resources  ${(ms / plan.resources.length).toFixed(2)} ms/resource`,
    );
  }

  const started = Date.now();
  const plans = await evaluateStacks(stacks);
  const wallMs = Date.now() - started;
  const resources = plans.reduce((n, p) => n + p.resources.length, 0);
  const floor = floorMs(resources);
  const msPerResource = wallMs / resources;
  const floorPerResource = floor / resources;

  console.log(
    `\nwhole preview, ${availableParallelism()} workers: ${(wallMs / 1000).toFixed(2)} s wall, ${resources} resources`,
  );
  console.log(`  seconds per stack (wall / stacks): ${(wallMs / 1000 / stacks.length).toFixed(2)}`);
  console.log(`  ms per resource (wall / resources): ${msPerResource.toFixed(2)}`);
  console.log(
    `  SDK floor: ${resources} bare custom resources under mocks in one process: ${floor.toFixed(0)} ms, ${floorPerResource.toFixed(2)} ms/resource`,
  );
  console.log(
    `  ratio to floor: ${(msPerResource / floorPerResource).toFixed(1)}x (small stacks: dominated by process start and provider SDK load)`,
  );
  console.log(
    `preview: stacks=${stacks.length} resources=${resources} seconds=${(wallMs / 1000).toFixed(2)} ms_per_resource=${msPerResource.toFixed(2)} floor_ms_per_resource=${floorPerResource.toFixed(2)} ratio=${(msPerResource / floorPerResource).toFixed(1)}`,
  );
}

main();
