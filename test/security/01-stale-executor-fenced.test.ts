/**
 * Finding 1: an executor paused (SIGSTOP, a sleeping laptop, a frozen VM) while another took
 * its lease over must change nothing when it wakes: no `pulumi config set`, `up` or `destroy`
 * reaches Pulumi, nothing is left staged for the next `up`, and it stops with StaleWriteError
 * (exit 3 from the CLI).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { localBackend, StaleWriteError, thisHolder } from "../../modules/migration-state/backend";
import { runMigration } from "../../modules/migrate/executor";
import {
  fenceEnv,
  fenceFromEnv,
  refuseStaleUpdate,
  type FenceToken,
} from "../../modules/migration-state/fence";
import { changesStack } from "../../modules/runbook/pulumi-args";
import { changedAnything } from "../../modules/migration-state/state";
import { loadWorld } from "../../modules/rehearsal/world";
import { runRollout } from "../../modules/rollout/executor";
import { rolloutUnits, ROLLOUT_DEFAULTS } from "../../modules/rollout/units";
import { RolloutWorld } from "../../modules/rollout/world";
import { executorFor, FIXTURE_STACKS, journalOf, newRehearsal, US_WEST } from "../migrate/support";

test("an executor whose lease was taken while it slept makes no Pulumi change when it wakes", async () => {
  const r = newRehearsal(US_WEST, FIXTURE_STACKS);
  const calls: string[][] = [];
  let tookOver = false;
  const successor = localBackend(r.stateDir, { pid: 2, alive: (p) => p === 2 });
  const { ctx, world } = executorFor(r, {
    pid: 1,
    afterWrite: (what) => {
      // The executor has recorded that it is about to move weights, and freezes right there;
      // meanwhile its lock is found with a dead-looking pid and taken over (acquire takes the
      // lock file synchronously, before its first await).
      if (what === "weights-intent" && !tookOver) {
        tookOver = true;
        void successor.acquire(".", thisHolder("bob", 2));
      }
    },
  });
  const drivers = {
    ...world,
    pulumi: (args: string[]) => {
      if (tookOver) calls.push(args);
      return world.pulumi(args);
    },
  };
  await assert.rejects(runMigration({ ...ctx, drivers }), StaleWriteError);
  assert.ok(tookOver, "the run got as far as a weight change");
  assert.deepEqual(
    calls.filter(changesStack),
    [],
    "after losing its lease, the executor ran no config set, up or destroy",
  );
  assert.deepEqual(loadWorld(r.worldFile).stacks["traffic-us-west"].staged, {});
  const entries = journalOf(r);
  assert.equal(entries.at(-1)?.type, "weights-intent", "nothing written after the takeover");
});

test("every Pulumi call that changes a stack is preceded by its intent, fenced by the lease's token", async () => {
  const r = newRehearsal(US_WEST, FIXTURE_STACKS);
  const { ctx } = executorFor(r);
  const outcome = await runMigration(ctx);
  assert.equal(outcome.kind, "waiting-approval", outcome.reason);
  const entries = journalOf(r);
  const changing = entries.flatMap((e, i) =>
    e.type === "command" && changesStack(e.argv.slice(1)) ? [i] : [],
  );
  assert.ok(changing.length >= 4, "the run set weights and ran ups");
  const first = entries.find((e) => e.type === "command-intent");
  for (const i of changing) {
    const [intent, command] = [entries[i - 1], entries[i]];
    assert.equal(intent.type, "command-intent", `entry ${i - 1}`);
    assert.ok(intent.type === "command-intent" && command.type === "command");
    assert.deepEqual(intent.argv, command.argv);
    assert.equal(intent.unit, command.unit);
    assert.equal(first?.type === "command-intent" && first.fence, intent.fence, "one lease");
    assert.ok(Number.isInteger(intent.fence) && intent.fence > 0);
  }
  // A read or a preview has no intent: it changes nothing.
  assert.equal(
    entries.filter((e) => e.type === "command-intent" && !changesStack(e.argv.slice(1))).length,
    0,
  );
});

test("an intent without its result counts as a change: such a run cannot be abandoned as harmless", () => {
  const argv = ["pulumi", "config", "set", "--path", "avfleet:traffic.pools[0].weight", "99"];
  assert.equal(
    changedAnything([
      { type: "start", hash: "h", pid: 1, restart: false, mode: "migrate", at: 0 },
      { type: "command-intent", unit: "3", argv, fence: 7, at: 1 },
    ]),
    "step 3 ran pulumi config set",
  );
});

test("a rollout whose lease was taken while it slept makes no pulumi, gcloud or aws call when it wakes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-stale-rollout-"));
  try {
    const world = new RolloutWorld({
      stack: "gcp-sjc",
      kind: "gcp",
      domains: ["a", "b", "c"],
      perDomain: 4,
      drainSeconds: 1800,
      running: "r-000000000001",
      rendered: "r-000000000002",
    });
    const calls: string[][] = [];
    let tookOver = false;
    // The world's driver calls these: what reaches the pool after the takeover is seen here.
    const [pulumi, run] = [world.pulumi.bind(world), world.run.bind(world)];
    const leases = new Set<string>();
    world.pulumi = (args: string[], lease?: FenceToken) => {
      leases.add(JSON.stringify(lease));
      if (tookOver) calls.push(["pulumi", ...args]);
      return pulumi(args);
    };
    world.run = (argv) => (tookOver && calls.push(argv), run(argv));
    const pool = world.read();
    const key = `release/${pool.stack}`;
    const successor = localBackend(dir, { pid: 2, alive: (p) => p === 2 });
    const units = rolloutUnits(pool, ROLLOUT_DEFAULTS);
    const canary = units.find((u) => u.kind === "batch")!.id;
    const rollout = runRollout({
      file: `stacks/Pulumi.${pool.stack}.yaml`,
      units,
      backend: localBackend(dir, { pid: 1 }),
      key,
      by: "alice",
      drivers: { pulumi: world.pulumi, metrics: world.metrics, clock: world.clock },
      mode: "rehearse",
      approvalTtlMs: () => ROLLOUT_DEFAULTS.approvalTtlMs,
      pool,
      driver: world.driver,
      options: ROLLOUT_DEFAULTS,
      onEntry: (entry) => {
        // The rollout has recorded that the canary starts, and freezes right there, before
        // its drain; meanwhile its lock is found with a dead-looking pid and taken over.
        if (entry.type === "step-start" && entry.unit === canary && !tookOver) {
          tookOver = true;
          void successor.acquire(key, thisHolder("bob", 2));
        }
      },
    });
    await assert.rejects(rollout, StaleWriteError);
    assert.ok(tookOver, "the rollout got as far as the canary");
    assert.deepEqual(calls, [], "after losing its lease: no config set, up or gcloud mark");
    const entries = await successor.read(key);
    assert.equal(entries.at(-1)?.type, "step-start", "nothing written after the takeover");
    // Before it (the begin step's config set and up), each call was journaled right after its
    // intent.
    // A read (the MIG's describe and list-instances after an up) has no intent: it changes nothing.
    const reads = ["describe", "list-instances"];
    const commands = entries.flatMap((e, i) =>
      e.type === "command" && !e.argv.some((a) => reads.includes(a)) ? [i] : [],
    );
    // Each pulumi call also carried the lease, for the program to check at an update.
    const fences = entries.flatMap((e) => (e.type === "command-intent" ? [e.fence] : []));
    assert.deepEqual([...leases], [JSON.stringify({ key, token: fences[0] })]);
    assert.ok(commands.length >= 3);
    for (const i of commands)
      assert.deepEqual(entries[i - 1], {
        ...entries[i - 1],
        type: "command-intent",
        argv: (entries[i] as { argv: string[] }).argv,
      });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the program refuses an update started under a lease that was since taken; a preview and the current lease pass", async () => {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-fence-"));
  try {
    // Two executors as two pids: the first's lock is found dead and taken over.
    const first = await localBackend(dir, { pid: 1 }).acquire("us-west", thisHolder("alice", 1));
    const open = (location: string) => localBackend(location, { alive: (p) => p === 2 });
    const second = await open(dir).acquire("us-west", thisHolder("bob", 2));
    assert.notEqual(first.token, second.token);
    const envOf = (token: number) => fenceEnv(dir, { key: "us-west", token });
    // What the frozen first executor's `pulumi up` carries into the program.
    await assert.rejects(
      refuseStaleUpdate(envOf(first.token), false, open),
      new Error(
        `${dir} us-west: this update was started under lease token ${first.token}, but it is now token ${second.token}; a stale executor's update changes nothing (exit 3 at its next write)`,
      ),
    );
    await refuseStaleUpdate(envOf(first.token), true, open);
    await refuseStaleUpdate(envOf(second.token), false, open);
    await second.release();
    await assert.rejects(
      refuseStaleUpdate(envOf(second.token), false, open),
      /started under lease token \d+, but nobody holds it/,
    );
    // An operator's own `pulumi up`, not started by an executor, carries no fence.
    await refuseStaleUpdate({}, false, open);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a fenced pulumi call carries an absolute state path, the key and the token to the program", () => {
  const env = fenceEnv("state/dir", { key: "us-west", token: 42 });
  assert.deepEqual(fenceFromEnv(env), {
    state: join(process.cwd(), "state/dir"),
    key: "us-west",
    token: 42,
  });
  const url = "postgres://avfleet@db.internal/fleet";
  assert.equal(fenceFromEnv(fenceEnv(url, { key: "k", token: 1 }))?.state, url);
});
