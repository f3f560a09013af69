/**
 * The SDK floor for bench/preview.bench.ts: registers N bare custom resources under Pulumi's
 * mocks in one fresh process and prints the milliseconds it took, as JSON.
 * Usage: node --import tsx bench/sdk-floor.ts <N>
 */
import * as pulumi from "@pulumi/pulumi";
import { quietStackTraces } from "../modules/evaluation/stack-traces";

class Bare extends pulumi.CustomResource {
  constructor(name: string) {
    super("avfleet:bench:Bare", name, {});
  }
}

async function main(count: number): Promise<void> {
  // The same runtime settings as modules/evaluation/worker.ts, so the ratio compares like with like.
  quietStackTraces();
  await pulumi.runtime.setMocks(
    {
      newResource: ({ name, inputs }) => ({ id: `${name}-id`, state: inputs }),
      call: ({ inputs }) => inputs,
    },
    "avfleet",
    "floor",
    false,
  );
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) new Bare(`bare-${i}`);
  await pulumi.runtime.disconnect();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(`${JSON.stringify({ count, ms })}\n`);
}

main(Number(process.argv[2]));
