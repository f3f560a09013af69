/**
 * The Plan worker loaded the way `pulumi up` loads a program: started by
 * `node --require modules/evaluation/pulumi-cli-register.js`, so this file, our modules and
 * index.ts go through the ts-node the Pulumi CLI registers (its resolution order, its type
 * checking), not through the bundle. The loader-fidelity test and `preview --loader
 * pulumi-cli` use it. The bundle's module tracker is absent here: Plans made this way record
 * no reads and never feed the Plan cache.
 */
import { resolve } from "node:path";
import { runWorker } from "./worker";

(globalThis as unknown as { __avfleet: unknown }).__avfleet = {
  initializing: [],
  edges: new Map(),
  roots: new Set(),
  use() {},
  reset() {},
};
runWorker(() => require(resolve("index.ts")) as Record<string, unknown>);
