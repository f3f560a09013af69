import { test } from "node:test";
import { createHash } from "node:crypto";
import assert from "node:assert/strict";
import type { RolloutConfig } from "../../modules/config/rollout";
import { InputError } from "../../modules/inputs/problems";
import { planBatches } from "../../modules/release/batches";
import { planHash, releaseId, releaseIntent, type ReleaseHost } from "../../modules/release/intent";

const A = "a".repeat(64);
const B = "b".repeat(64);
const OLD = "0".repeat(64);
const classes = { big: A, small: B };

/** 3 racks of 4 hosts, two classes; h05 drains by the inventory. */
const hosts: ReleaseHost[] = Array.from({ length: 12 }, (_, i) => ({
  name: `h${String(i).padStart(2, "0")}`,
  domain: `r${Math.floor(i / 4) + 1}`,
  class: i % 2 ? "small" : "big",
  state: i === 5 ? "draining" : "active",
}));
const limits = { canaryShare: 0.01, maxUnavailable: 2, domainsAtOnce: 1 } as const;
const plan = planBatches(
  hosts.filter((h) => h.state === "active"),
  limits,
);

function rollout(change: Partial<RolloutConfig> = {}): RolloutConfig {
  return {
    release: releaseId(classes),
    from: { classes: { big: OLD, small: OLD } },
    plan: planHash(plan),
    updated: 0,
    draining: -1,
    target: "release",
    ...limits,
    ...change,
  };
}

const intents = (r?: RolloutConfig) =>
  releaseIntent({ file: "stacks/Pulumi.metal-x.yaml", classes, hosts, rollout: r }).hosts;

test("release id: r- and 12 hex of the sorted class=sha lines, whatever the order they come in", () => {
  assert.match(releaseId(classes), /^r-[0-9a-f]{12}$/);
  assert.equal(releaseId({ small: B, big: A }), releaseId(classes));
  assert.notEqual(releaseId({ big: A, small: A }), releaseId(classes));
  assert.equal(
    releaseId({ big: A }),
    `r-${createHash("sha256").update(`big=${A}\n`).digest("hex").slice(0, 12)}`,
  );
});

test("no rollout, or one of another release: every host keeps what it runs; the inventory's draining host drains", () => {
  for (const r of [undefined, rollout({ release: "r-000000000000", updated: 3 })]) {
    const got = intents(r);
    assert.deepEqual(got.get("h00"), { run: "payload", sha: A, keep: true });
    assert.deepEqual(got.get("h01"), { run: "payload", sha: B, keep: true });
    assert.deepEqual(got.get("h05"), { run: "drain" });
    assert.equal([...got.values()].filter((i) => i.run === "payload" && !i.keep).length, 0);
  }
});

test("a rollout of this release: the canary (batch 0) runs it once updated is 1, a draining batch drains, the rest run what they ran", () => {
  assert.deepEqual(plan.canary, ["h00"]);
  assert.deepEqual(plan.batches[0], ["h01", "h02"]);
  const canary = intents(rollout({ updated: 1 }));
  assert.deepEqual(canary.get("h00"), { run: "payload", sha: A, keep: false });
  assert.deepEqual(canary.get("h01"), { run: "payload", sha: OLD, keep: false });
  assert.deepEqual(canary.get("h05"), { run: "drain" }, "drained by the inventory, in no batch");
  const draining = intents(rollout({ updated: 1, draining: 1 }));
  assert.deepEqual(
    [...draining].filter(([, i]) => i.run === "drain").map(([h]) => h),
    ["h01", "h02", "h05"],
  );
  // A class the rollout knows no earlier sha for keeps what its hosts run.
  const noFrom = intents(rollout({ updated: 1, from: { classes: { big: OLD } } }));
  assert.deepEqual(noFrom.get("h03"), { run: "payload", sha: B, keep: true });
  assert.deepEqual(noFrom.get("h02"), { run: "payload", sha: OLD, keep: false });
});

test("the plan the rollout started with is checked: a changed inventory is refused, naming the file and key", () => {
  const r = rollout({ updated: 1 });
  const grown = [...hosts, { name: "h12", domain: "r3", class: "big", state: "active" as const }];
  assert.throws(
    () => releaseIntent({ file: "stacks/Pulumi.metal-x.yaml", classes, hosts: grown, rollout: r }),
    (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.deepEqual(err.lines, [
        `stacks/Pulumi.metal-x.yaml: config.avfleet:rollout.plan: is ${r.plan}, but the inventory's active hosts and the rollout's limits make plan ${planHash(
          planBatches(
            grown.filter((h) => h.state === "active"),
            limits,
          ),
        )}: the site changed during the rollout of ${releaseId(classes)}, expected the plan the rollout started with: finish or roll back the rollout before adding, draining or retiring hosts`,
      ]);
      return true;
    },
  );
  // A rollout of another release checks nothing: this up only records the new one.
  assert.doesNotThrow(() =>
    releaseIntent({
      file: "f",
      classes,
      hosts: grown,
      rollout: { ...r, release: "r-000000000000" },
    }),
  );
});

test("the release output: what is rendered, and where the rollout stands with its batch count", () => {
  const { output } = releaseIntent({ file: "f", classes, hosts, rollout: rollout({ updated: 2 }) });
  assert.deepEqual(output, {
    rendered: releaseId(classes),
    classes,
    rollout: {
      release: releaseId(classes),
      updated: 2,
      draining: -1,
      target: "release",
      batches: 1 + plan.batches.length,
    },
  });
});
