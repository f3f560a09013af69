import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { readFileSync } from "node:fs";
import { loadRunbook, validateRunbook } from "../../modules/runbook/runbook";
import { InputError } from "../../modules/inputs/problems";
import { avfleet, ROOT } from "../support/cli";
import { FIXTURE_STACKS, tempDir, tempStacks, US_WEST, writeRunbook } from "../migrate/support";

/**
 * us-west, its shift steps (1 % with a longer maxBake, then 5–100 %) as one: the checks below
 * rewrite a shift's whole schedule, and the step indices in their messages are this one's.
 */
const GOOD = (() => {
  const doc = YAML.parse(readFileSync(US_WEST, "utf8"));
  const shifts = doc.steps.filter((s: any) => s.kind === "shift");
  const first = doc.steps.indexOf(shifts[0]);
  const merged = { ...shifts.at(-1), weights: shifts.flatMap((s: any) => s.weights) };
  doc.steps = doc.steps.filter((s: any) => s.kind !== "shift");
  doc.steps.splice(first, 0, merged);
  return doc;
})();

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
  // what the gates query: the pool each stack's hosts label their series with
  assert.deepEqual(usw.traffic.poolLabels, {
    "metal-sjc": "metal-sjc",
    "gcp-us-west1": "gcp-usw1",
  });
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
    "a region other than the traffic stack's media region (#13: one region at a time)",
    (doc) => (doc.region = "eu-west"),
    [
      'region: is "eu-west", but traffic-us-west steers media region us-west, expected the media region of its traffic stack: us-west (or the traffic stack of eu-west)',
    ],
  ],
  [
    "a fleet stack as the traffic stack is the runbook's mistake, not the stack file's",
    (doc) => (doc.traffic = "gcp-us-west1"),
    [
      'traffic: is "gcp-us-west1", a fleet stack, expected a traffic stack (one with config.avfleet:traffic) whose pools are the source and target',
    ],
  ],
  [
    "gate thresholds and floors that could never fail",
    (doc) =>
      (shift(doc).gates = [
        { slo: "packet-loss", threshold: 5 },
        { slo: "jitter-p95", threshold: -0.01 },
        { slo: "join-success", threshold: 0 },
        { slo: "rtt-p95", compare: "source", effectFloor: 3 },
        // a floor of 0: equal pools could never pass the sequential test
        { slo: "packet-loss", compare: "source", effectFloor: 0 },
      ]),
    [
      "steps[2].gates[0].threshold: is 5, expected a packet-loss ceiling: a ratio like 0.01 (1 %), ≤ 0.2",
      "steps[2].gates[1].threshold: is -0.01, expected a jitter p95 ceiling in seconds, like 0.03, > 0",
      "steps[2].gates[2].threshold: is 0, expected a join-success floor: a ratio like 0.995, > 0.5",
      "steps[2].gates[3].effectFloor: is 3, expected a worsening as a share of the source's RTT p95, like 0.25 (+25 %), ≤ 1",
      "steps[2].gates[4].effectFloor: is 0, expected a worsening as a share of the source's loss ratio, like 0.5 (+50 %), > 0",
    ],
  ],
  [
    "an approval that expires at once, a bake longer than a day, a wait of a week",
    (doc) => {
      doc.approvalsExpireAfter = "0s";
      shift(doc).bake = "1000h";
      doc.steps.push({ kind: "wait", duration: "168h" });
    },
    [
      'approvalsExpireAfter: is "0s", expected how long an approval stays valid: a duration like 30s, 10m or 2h, from 1m to 168h',
      'steps[2].bake: is "1000h", expected how long each weight bakes before its gates decide: a duration like 30s, 10m or 2h, from 5s to 24h',
      'steps[6].duration: is "168h", expected how long to wait: a duration like 30s, 10m or 2h, from 1s to 24h',
    ],
  ],
  [
    "a bake that would take more gate rounds than a day of minutes",
    (doc) => Object.assign(shift(doc), { bake: "12h", maxBake: "24h", interval: "10s" }),
    [
      "steps[2].interval: is 10s: a bake of up to 1440 min would take 8640 gate rounds, expected at most 1440 rounds per bake (a longer interval or a shorter maxBake)",
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
      "steps[2].gates: is empty, expected a non-empty list of gates (a shift without gates is refused)",
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
    "durations outside the ranges that mean something",
    (doc) => Object.assign(shift(doc), { bake: "4s", interval: "500ms", maxBake: "25h" }),
    [
      'steps[2].bake: is "4s", expected how long each weight bakes before its gates decide: a duration like 30s, 10m or 2h, from 5s to 24h',
      'steps[2].interval: is "500ms", expected how often gates are evaluated during a bake: a duration like 30s, 10m or 2h, from 1s to 1h',
      'steps[2].maxBake: is "25h", expected how far an inconclusive bake may extend before holding for a human (default: twice bake): a duration like 30s, 10m or 2h, from 5s to 24h',
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
  [
    "schema errors and the checks beyond the schema, in one pass (#27 finding 9: fixing one never reveals the next)",
    (doc) => {
      // schema: an unknown SLO in a gate, and an approval that expires at once
      Object.assign(shift(doc), { gates: [{ slo: "latency" }], maxBake: "5m" });
      doc.approvalsExpireAfter = "0s";
      // beyond the schema: maxBake < bake (same step as the bad gate), a weight jump too large,
      // and a decommission before any drain
      shift(doc).weights = [1, 5, 25, 50, 100];
      doc.steps.splice(1, 0, { kind: "decommission" });
    },
    [
      'approvalsExpireAfter: is "0s", expected how long an approval stays valid: a duration like 30s, 10m or 2h, from 1m to 168h',
      "steps[1].kind: is decommission before any drain, expected decommission after a drain step and then an approve step",
      'steps[3].gates[0].slo: is "latency", expected one of packet-loss | jitter-p95 | join-success | rtt-p95',
      "steps[3].maxBake: is 5m, shorter than bake 10m, expected maxBake ≥ bake",
      "steps[3].weights[4]: is 100, which moves the target from 50 to 100, 50 points at once, expected steps of at most 25 (maxStepPct of traffic-us-west)",
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

test("migrate plan prints every setting in force and where it comes from", () => {
  const doc = structuredClone(GOOD);
  shift(doc).gates = [
    { slo: "packet-loss", threshold: 0.02 },
    { slo: "jitter-p95", compare: "source", minSamples: 200 },
  ];
  delete shift(doc).maxBake;
  const file = writeRunbook(tempDir(), doc);
  const result = avfleet(["migrate", "plan", file, "--stacks-dir", FIXTURE_STACKS]);
  assert.equal(result.code, 0, result.stderr);
  const inForce = result.stdout.split("\n").filter((l) => /^ {6}steps\[2\]/.test(l));
  assert.deepEqual(
    inForce.map((l) => l.trim()),
    [
      "steps[2].bake = 10m  [runbook]",
      "steps[2].maxBake = 20 min  [default: twice bake]",
      "steps[2].interval = 5m  [runbook]",
      "steps[2].gates[0].threshold (packet-loss on target) = < 0.02  [runbook]",
      "steps[2].gates[0].minSamples (packet-loss on target) = 3  [default: schema default]",
      "steps[2].gates[0].critical (packet-loss on target) = true  [default: schema default]",
      "steps[2].gates[1].confidence (jitter-p95 vs source) = 0.99  [default: relative gates (COMPARE_DEFAULTS)]",
      "steps[2].gates[1].effectFloor (jitter-p95 vs source) = +50 % of the source's mean  [default: the jitter-p95 comparison]",
      "steps[2].gates[1].minSamples (jitter-p95 vs source) = 200  [runbook]",
      "steps[2].gates[1].critical (jitter-p95 vs source) = true  [default: schema default]",
    ],
  );
  // Printed once per shift step, not once per weight.
  assert.equal(result.stdout.split("in force for every weight").length - 1, 1);
});

test("a drain's belowSessions is bounded by what the source can carry (1e23 would end the drain at once)", () => {
  const stacks = join(ROOT, "stacks");
  const i = GOOD.steps.findIndex((s: any) => s.kind === "drain");
  const load = (belowSessions: number) => {
    const doc = structuredClone(GOOD);
    doc.steps[i].belowSessions = belowSessions;
    const file = writeRunbook(tempDir(), doc);
    try {
      loadRunbook(file, stacks);
      return undefined;
    } catch (err) {
      assert.ok(err instanceof InputError, String(err));
      return err.lines.map((line) => line.replace(`${file}: `, "")).join("\n");
    }
  };
  // metal-sjc's inventory carries 301,500 streams at 4 per participant
  assert.equal(
    load(1e23),
    `steps[${i}].belowSessions: is 1e+23, not below the 75375 sessions metal-sjc can carry: it would count as drained at once, expected fewer than 75375 (a few per host: the calls a drain may leave to its limit)`,
  );
  assert.match(load(75375)!, /belowSessions: is 75375, not below the 75375 sessions/);
  assert.equal(load(75374), undefined);
});

test("a pool stack without avfleet:fleet.pool is refused: the gates could not find its hosts' series", () => {
  const stacks = tempStacks();
  const file = join(stacks, "Pulumi.gcp-us-west1.yaml");
  writeFileSync(file, readFileSync(file, "utf8").replace(/^    pool: gcp-usw1\n/m, ""));
  const runbook = writeRunbook(tempDir(), { ...YAML.parse(readFileSync(US_WEST, "utf8")) });
  assert.throws(
    () => loadRunbook(runbook, stacks),
    (err: unknown) =>
      err instanceof InputError &&
      err.lines.some((l) =>
        l.endsWith(
          'target: is "gcp-us-west1", a stack without avfleet:fleet.pool, expected a fleet stack: its pool is the label the gates query its hosts\' series by',
        ),
      ),
  );
});
