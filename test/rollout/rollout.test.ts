import { test } from "node:test";
import assert from "node:assert/strict";
import { rehearseRollout, RolloutRehearsal } from "../../modules/rollout/rehearse";
import { RolloutWorld, type WorldOptions } from "../../modules/rollout/world";
import { unavailableHosts } from "../../modules/release/batches";
import { configFromArgs, rolloutConfigArgs } from "../../modules/rollout/drivers";

const SITE: WorldOptions = {
  stack: "metal-sjc",
  kind: "metal",
  domains: ["r01", "r02", "r03"],
  perDomain: 8,
  drainSeconds: 1800,
  running: "r-000000000001",
  rendered: "r-000000000002",
};

for (const kind of ["metal", "gcp", "aws"] as const) {
  test(`a good release reaches every ${kind} host in drained batches, no call cut before its limit`, async () => {
    // The hosts label their series with the fleet's pool, not the stack's name.
    const world = new RolloutWorld({
      ...SITE,
      kind,
      stack: `${kind}-stack`,
      pool: `${kind}-pool`,
      callsPerHost: 600,
    });
    // A one-host canary of 200 calls cannot tell join success within 0.2 % in two hours (it
    // holds for a person, the next test's case); three busier hosts can.
    const { outcome, units, entries } = await rehearseRollout(world, {
      maxUnavailable: 3,
      canaryShare: 0.1,
    });
    assert.equal(outcome.kind, "done", outcome.reason);
    assert.deepEqual([...new Set(world.read().hosts.map((h) => h.release))], ["r-000000000002"]);
    assert.equal(world.read().hosts.length, 24);
    assert.equal(world.tally.callsCut, 0);
    assert.equal(world.tally.maxUnavailableExceeded, 0);
    assert.ok(world.tally.maxOutOfService <= 3, `${world.tally.maxOutOfService} out at once`);
    const sizes = units.flatMap((u) => (u.kind === "batch" ? [u.hosts.length] : []));
    assert.equal(sizes[0], 3, "a three-host canary, within one rack or zone");
    assert.ok(sizes.every((n) => n <= 3));
    assert.equal(world.tally.hostsUpdated, 24);
    if (kind === "aws") {
      // The warm instance of the old version goes before the canary's first terminate.
      assert.equal(world.warmRefreshed, 1);
      const argvs = entries.flatMap((e) => (e.type === "command" ? [e.argv.join(" ")] : []));
      const warm = argvs.findIndex((a) =>
        a.startsWith("aws ec2 terminate-instances --instance-ids i-warm"),
      );
      const first = argvs.findIndex((a) => a.includes("terminate-instance-in-auto-scaling-group"));
      assert.ok(warm >= 0 && warm < first, "warm pool refreshed before the canary");
    }
    if (kind === "gcp") {
      // The stopped standby member of the old template is recreated before the canary drains,
      // once: after that it is on the release's template.
      assert.equal(world.standbyRecreated, 1);
      const argvs = entries.flatMap((e) => (e.type === "command" ? [e.argv.join(" ")] : []));
      const standby = argvs.findIndex((a) => /recreate-instances .*--instances=standby-0 /.test(a));
      const first = argvs.findIndex((a) => a.includes("add-metadata"));
      assert.ok(standby >= 0 && standby < first, "standby member recreated before the canary");
    }
  });
}

test("a bad release (the canary's loss one point up) stops at the canary and goes back", async () => {
  const world = new RolloutWorld({ ...SITE, extraLoss: { "r-000000000002": 0.01 } });
  const { outcome, entries } = await rehearseRollout(world, { maxUnavailable: 3 });
  assert.equal(outcome.kind, "rolled-back");
  assert.match(outcome.reason, /canary failed its gates: packet-loss/);
  assert.equal(world.tally.hostsUpdated, 1, "only the canary took the release");
  assert.equal(world.tally.hostsRolledBack, 1);
  assert.deepEqual([...new Set(world.read().hosts.map((h) => h.release))], ["r-000000000001"]);
  assert.equal(world.tally.callsCut, 0);
  // The canary drained twice: before it took the release, and before it gave it back.
  const draining = entries.flatMap((e) =>
    e.type === "command" && e.argv.includes("avfleet:rollout.draining") ? [e.argv.at(-1)] : [],
  );
  assert.deepEqual(draining, ["-1", "0", "-1", "0", "-1"]);
});

test("a canary too small to decide holds for a person, naming the gate and the choice", async () => {
  const world = new RolloutWorld(SITE);
  const { outcome } = await rehearseRollout(world, { maxUnavailable: 3 });
  assert.equal(outcome.kind, "held");
  assert.match(outcome.reason, /canary inconclusive after 120 min: join-success/);
  assert.match(outcome.reason, /approve to go on with the next batch, or roll back/);
  assert.equal(world.tally.hostsUpdated, 1);
});

test("a batch never takes more hosts out than maxUnavailable allows, as a share too", async () => {
  const world = new RolloutWorld({ ...SITE, perDomain: 20, callsPerHost: 600 });
  const { outcome } = await rehearseRollout(world, { maxUnavailable: "10%", canaryShare: 0.05 });
  assert.equal(outcome.kind, "done", outcome.reason);
  assert.ok(world.tally.maxOutOfService <= unavailableHosts("10%", 60));
  assert.equal(world.tally.maxUnavailableExceeded, 0);
});

test("avfleet:rollout is written leaf by leaf as config set --path stores it, and read back whole", () => {
  const config = {
    release: "r-000000000002",
    from: { id: "r-000000000001", classes: { "r640-2x25g": "a".repeat(64) } },
    plan: "0123456789ab",
    updated: 0,
    draining: -1,
    target: "release" as const,
    canaryShare: 0.01,
    maxUnavailable: "10%",
    domainsAtOnce: 1,
  };
  const calls = rolloutConfigArgs("metal-sjc", config);
  // removed first: a half-written config is no rollout, and an up changes no host
  assert.deepEqual(calls[0], ["config", "rm", "avfleet:rollout", "--stack", "metal-sjc"]);
  assert.deepEqual(
    calls.find((c) => c.includes("avfleet:rollout.canaryShare")),
    [
      "config",
      "set",
      "--path",
      "avfleet:rollout.canaryShare",
      "--type",
      "float",
      "--stack",
      "metal-sjc",
      "--",
      "0.01",
    ],
  );
  // -1 after --, never taken for a flag
  assert.deepEqual(calls.find((c) => c.includes("avfleet:rollout.draining"))!.slice(-2), [
    "--",
    "-1",
  ]);
  assert.deepEqual(configFromArgs(calls), config);
});

test("an AWS rollout resumed, its hosts replaced under new names: every invocation goes by the batches its begin planned (no second canary), and a rollback after it returns every host on the release", async () => {
  const world = new RolloutWorld({ ...SITE, kind: "aws", stack: "aws-pool", callsPerHost: 600 });
  const rehearsal = new RolloutRehearsal(world, { maxUnavailable: 3, canaryShare: 0.1 });
  try {
    // One unit per invocation: begin, the canary, batch 1, batch 2, each a resume.
    const first = await rehearsal.run({ step: true });
    assert.equal(first.kind, "stepped", first.reason);
    const planned = rehearsal.units.flatMap((u) => (u.kind === "batch" ? [u.hosts] : []));
    for (let i = 0; i < 3; i++) {
      const outcome = await rehearsal.run({ step: true });
      assert.equal(outcome.kind, "stepped", outcome.reason);
      assert.deepEqual(
        rehearsal.units.flatMap((u) => (u.kind === "batch" ? [u.hosts] : [])),
        planned,
        "the begin's plan, not the pool's names now",
      );
    }
    assert.equal(rehearsal.entries.filter((e) => e.type === "start" && e.restart).length, 0);
    const canaries = rehearsal.entries.filter(
      (e) => e.type === "step-start" && e.title.startsWith("canary"),
    );
    assert.equal(canaries.length, 1, "one canary");
    const onRelease = () => world.read().hosts.filter((h) => h.release === SITE.rendered);
    const reached = planned.slice(0, 3).flat().length;
    assert.equal(onRelease().length, reached, "the canary, batches 1 and 2");
    const back = await rehearsal.rollback();
    assert.equal(back.kind, "rolled-back", back.reason);
    assert.match(back.reason, new RegExp(`${reached} host\\(s\\) back on ${SITE.running}`));
    assert.deepEqual([...new Set(world.read().hosts.map((h) => h.release))], [SITE.running]);
    assert.equal(world.tally.callsCut, 0);
    assert.equal(world.tally.maxUnavailableExceeded, 0);
  } finally {
    rehearsal.close();
  }
});
