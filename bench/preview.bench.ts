/**
 * How fast is the offline preview, against the floor the Pulumi SDK itself sets?
 * Prints seconds per stack and ms per resource for every example stack, beside the time the
 * SDK takes to register as many bare custom resources under mocks in one process.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_STACKS_DIR, listStacks, loadStacks } from "../modules/stacks/stack";
import { evaluateStack, evaluateStacks } from "../modules/evaluation/evaluate";
import { floorSeconds, writeSite } from "./estate";

const floorMs = (count: number) => floorSeconds(count) * 1000;

const BIG_SITE_HOSTS = 5000;

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
  const bigDir = mkdtempSync(join(tmpdir(), "avfleet-bench-"));
  for (const sub of ["stacks", "inventory"]) mkdirSync(join(bigDir, sub));
  writeSite(bigDir, "metal-big", BIG_SITE_HOSTS);
  const bigStarted = Date.now();
  const [big] = await evaluateStacks(loadStacks(join(bigDir, "stacks"), ["metal-big"]));
  const bigSeconds = (Date.now() - bigStarted) / 1000;
  const bigFloor = floorMs(big.resources.length);
  console.log(
    `\ngenerated bare-metal site: ${BIG_SITE_HOSTS} hosts → ${big.resources.length} resources in ${bigSeconds.toFixed(2)} s (${((bigSeconds * 1000) / big.resources.length).toFixed(2)} ms/resource; SDK floor ${(bigFloor / big.resources.length).toFixed(2)} ms/resource, ratio ${((bigSeconds * 1000) / bigFloor).toFixed(1)}x)`,
  );

  console.log(
    `preview: stacks=${stacks.length} resources=${resources} seconds=${(wallMs / 1000).toFixed(2)} ms_per_resource=${msPerResource.toFixed(2)} floor_ms_per_resource=${floorPerResource.toFixed(2)} ratio=${(msPerResource / floorPerResource).toFixed(1)} big_site_seconds=${bigSeconds.toFixed(2)}`,
  );
}

main();
