/**
 * The offline evaluator (modules/evaluation/worker.ts, and bench/state.ts, which measures an
 * update's state) runs the program under mocks with preview off, only so that apply()
 * callbacks run: no provider sees what it declares. It runs in the
 * code's folder, so it also says where the stack's own project keeps its stack files (and so
 * its inventories). A module of its own: the worker sets it before it loads the program.
 */
let offlineStacks: string | undefined;

export function evaluatingOffline(stacksDir: string): void {
  offlineStacks = stacksDir;
}

/** The stacks folder of the stack evaluated offline; undefined under the Pulumi CLI. */
export function offlineStacksDir(): string | undefined {
  return offlineStacks;
}
