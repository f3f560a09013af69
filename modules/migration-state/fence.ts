/**
 * The lease's fencing token, checked on Pulumi's side too. An executor frozen between its
 * intent's append (run.ts `journaled`) and the `pulumi up` it spawns would otherwise still run
 * that one update after another executor took its lease. So every `pulumi` an executor runs
 * carries its token and the state's location in its environment, and the program (index.ts),
 * in an update (not a preview: `pulumi.runtime.isDryRun()`,
 * https://www.pulumi.com/docs/reference/pkg/nodejs/pulumi/pulumi/interfaces/runtime.Options.html),
 * asks the state backend who holds the lease now before it declares a resource. What is left
 * open (a frozen `config set` or `destroy`, which run no program): docs/real-path.md, #26.
 */
import { resolve } from "node:path";
import { localBackend, type StateBackend } from "./backend";
import { isPostgresUrl, postgresBackend } from "./postgres";

/** What an executor's `pulumi` calls carry: the state location, the lease's key and token. */
export const FENCE_ENV = {
  state: "AVFLEET_STATE",
  key: "AVFLEET_FENCE_KEY",
  token: "AVFLEET_FENCE",
} as const;

export interface FenceToken {
  key: string;
  token: number;
}

/** The environment of one `pulumi` call made under `fence`, state at `location`. */
export function fenceEnv(location: string, fence: FenceToken): Record<string, string> {
  return {
    // The program runs in the project's folder, not the operator's: a local state path is
    // made absolute here.
    [FENCE_ENV.state]: isPostgresUrl(location) ? location : resolve(location),
    [FENCE_ENV.key]: fence.key,
    [FENCE_ENV.token]: String(fence.token),
  };
}

/**
 * Why an update must not run, or undefined. A preview changes nothing and is never refused;
 * an update is refused unless the token it was started with is the lease's current one.
 * `current`: the token of the key's live lease holder, undefined when none holds it.
 */
export function fenceRefusal(o: {
  dryRun: boolean;
  fence: FenceToken;
  current: number | undefined;
  where: string;
}): string | undefined {
  if (o.dryRun || o.current === o.fence.token) return undefined;
  const now = o.current === undefined ? "nobody holds it" : `it is now token ${o.current}`;
  return `${o.where} ${o.fence.key}: this update was started under lease token ${o.fence.token}, but ${now}; a stale executor's update changes nothing (exit 3 at its next write)`;
}

/** The fence a `pulumi` process was started with, if an executor started it. */
export function fenceFromEnv(env: NodeJS.ProcessEnv): (FenceToken & { state: string }) | undefined {
  const [state, key, token] = [env[FENCE_ENV.state], env[FENCE_ENV.key], env[FENCE_ENV.token]];
  if (!state || !key || !token) return undefined;
  return { state, key, token: Number(token) };
}

/**
 * Throws unless the update may run: called by the program before it declares anything. A
 * `pulumi up` not started by an executor (no fence in its environment) is not checked.
 */
export async function refuseStaleUpdate(
  env: NodeJS.ProcessEnv,
  dryRun: boolean,
  open: (location: string) => StateBackend = (l) =>
    isPostgresUrl(l) ? postgresBackend(l) : localBackend(l),
): Promise<void> {
  const fence = fenceFromEnv(env);
  if (!fence || dryRun) return;
  const backend = open(fence.state);
  try {
    const current = (await backend.holder(fence.key))?.token;
    const refusal = fenceRefusal({ dryRun, fence, current, where: backend.where });
    if (refusal) throw new Error(refusal);
  } finally {
    await backend.close();
  }
}
