import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { existsSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { readFileSync } from "node:fs";
import { InputError } from "../../modules/config/validate";
import { loadRunbook, validateRunbook } from "../../modules/migrate/runbook";
import { avfleet, ROOT } from "../support/cli";
import { FIXTURE_STACKS, tempDir, US_WEST, writeRunbook } from "./support";

const GOOD = YAML.parse(readFileSync(US_WEST, "utf8"));

function problemsOf(change: (doc: any) => void): string[] {
  const doc = structuredClone(GOOD);
  change(doc);
  const file = writeRunbook(tempDir(), doc);
  try {
    loadRunbook(file, FIXTURE_STACKS);
  } catch (err) {
    assert.ok(err instanceof InputError, `expected InputError, got ${err}`);
    return err.lines.map((line) => line.replace(`${file}: `, ""));
  }
  assert.fail("the runbook was accepted");
}

const shift = (doc: any) => doc.steps.find((s: any) => s.kind === "shift");

test("the example runbooks load against the repository's stacks and the fixture stacks", () => {
  for (const stacks of [join(ROOT, "stacks"), FIXTURE_STACKS]) {
    for (const region of ["us-west", "eu-west"]) {
      const loaded = loadRunbook(join(ROOT, "runbooks", `${region}.yaml`), stacks);
      assert.equal(loaded.runbook.region, region);
      assert.match(loaded.hash, /^[0-9a-f]{64}$/);
    }
  }
  const usw = loadRunbook(US_WEST, FIXTURE_STACKS);
  assert.deepEqual(usw.traffic.pools, ["metal-sjc", "gcp-us-west1"]);
  // Schema defaults fill in what the runbook leaves out.
  assert.deepEqual(shift(usw.runbook).gates[0], {
    slo: "packet-loss",
    pool: "target",
    critical: true,
    minSamples: 3,
  });
});

const badCases: [string, (doc: any) => void, string[]][] = [
  [
    "unknown stack",
    (doc) => (doc.target = "gcp-us-west9"),
    [
      `target: is "gcp-us-west9", an unknown stack (no ${join(FIXTURE_STACKS, "Pulumi.gcp-us-west9.yaml")}), expected one of the stacks in ${FIXTURE_STACKS}: gcp-europe-west4, gcp-us-west1, metal-ams, metal-sjc, traffic-eu-west, traffic-us-west`,
    ],
  ],
  [
    "a stack that is not a pool of the traffic split",
    (doc) => (doc.target = "gcp-europe-west4"),
    [
      'target: is "gcp-europe-west4", not a pool of traffic-us-west, expected one of traffic-us-west\'s pools: metal-sjc, gcp-us-west1',
    ],
  ],
  [
    "weights not increasing",
    (doc) => (shift(doc).weights = [1, 5, 25, 20, 50, 75, 100]),
    [
      "steps[2].weights[3]: is 20, not above the previous weight 25, expected weights that increase from step to step",
    ],
  ],
  [
    "a weight above 100",
    (doc) => (shift(doc).weights = [1, 5, 25, 50, 75, 100, 120]),
    ["steps[2].weights[6]: is 120, expected a weight in 1–100, ≤ 100"],
  ],
  [
    "a step larger than the traffic stack allows",
    (doc) => (shift(doc).weights = [1, 5, 25, 50, 100]),
    [
      "steps[2].weights[4]: is 100, which moves the target from 50 to 100, 50 points at once, expected steps of at most 25 (maxStepPct of traffic-us-west)",
    ],
  ],
  [
    "a shift without gates",
    (doc) => delete shift(doc).gates,
    [
      "steps[2].gates: is missing, expected a non-empty list of gates (a shift without gates is refused)",
    ],
  ],
  [
    "a shift with an empty gate list",
    (doc) => (shift(doc).gates = []),
    [
      "steps[2].gates: is [], expected a non-empty list of gates (a shift without gates is refused)",
    ],
  ],
  [
    "an unknown step kind",
    (doc) => doc.steps.splice(1, 0, { kind: "migrate" }),
    [
      'steps[1].kind: is "migrate", expected one of preflight | scale | shift | drain | approve | decommission | wait',
    ],
  ],
  [
    "decommission before drain",
    (doc) => doc.steps.splice(1, 0, { kind: "decommission" }),
    [
      "steps[1].kind: is decommission before any drain, expected decommission after a drain step and then an approve step",
    ],
  ],
  [
    "decommission without an approval after the drain",
    (doc) => doc.steps.splice(4, 1),
    [
      "steps[4].kind: is decommission with no approve step between the drain and it, expected decommission after a drain step and then an approve step",
    ],
  ],
  [
    "a bake shorter than the DNS TTL",
    (doc) => Object.assign(shift(doc), { bake: "4s", interval: "2s", maxBake: "8s" }),
    [
      "steps[2].bake: is 4s, shorter than the DNS TTL 5s of traffic-us-west, expected a bake of at least the TTL (only new joins move, after caches expire)",
    ],
  ],
  [
    "a malformed duration and an unknown gate",
    (doc) => Object.assign(shift(doc), { bake: "ten minutes", gates: [{ slo: "latency" }] }),
    [
      'steps[2].bake: is "ten minutes", expected how long each weight bakes before its gates decide: a duration like 30s, 10m or 2h',
      'steps[2].gates[0].slo: is "latency", expected one of packet-loss | jitter-p95 | join-success | rtt-p95',
    ],
  ],
];

for (const [name, change, expected] of badCases) {
  test(`a bad runbook is refused with a clear error: ${name}`, () => {
    assert.deepEqual(problemsOf(change), expected);
  });
}

test("the CLI refuses a bad runbook with exit 2 before anything runs", () => {
  const dir = tempDir();
  const doc = structuredClone(GOOD);
  doc.steps.splice(1, 0, { kind: "decommission" });
  const file = writeRunbook(dir, doc);
  const state = join(dir, "state");
  const r = avfleet([
    "migrate",
    "run",
    file,
    "--rehearse",
    "--stacks-dir",
    FIXTURE_STACKS,
    "--state-dir",
    state,
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /steps\[1\]\.kind: is decommission before any drain/);
  assert.equal(r.stdout, "");
  assert.equal(existsSync(state), false, "nothing written");
});

test("property: a schedule is accepted exactly when it rises by at most maxStepPct up to 100", () => {
  const run = (weights: number[]) => {
    const doc = structuredClone(GOOD);
    shift(doc).weights = weights;
    try {
      validateRunbook("rb.yaml", doc, FIXTURE_STACKS);
      return true;
    } catch (err) {
      if (err instanceof InputError) return false;
      throw err;
    }
  };
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 8 }),
      (weights) => {
        // the drain after the shift takes the target to 100: one more step of the schedule
        const steps = [0, ...weights, 100];
        const valid = steps
          .slice(1)
          .every(
            (w, i) => (i === weights.length ? w >= steps[i] : w > steps[i]) && w - steps[i] <= 25,
          );
        assert.equal(run(weights), valid, `weights ${weights.join(", ")}`);
      },
    ),
    { numRuns: 300, seed: 7 },
  );
});
