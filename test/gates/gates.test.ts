import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { judgeGate, roundVerdict } from "../../modules/gates/gates";
import type { GateEvaluation } from "../../modules/gates/verdict";
import type { Gate } from "../../modules/runbook/runbook.schema";
import { SLOS } from "../../modules/gates/slo";

const gate = (over: Partial<Gate> = {}): Gate => ({
  slo: "packet-loss",
  pool: "target",
  critical: true,
  minSamples: 3,
  ...over,
});

test("a gate passes or fails on the window's mean against the SLO threshold", () => {
  const pass = judgeGate(gate(), "gcp-us-west1", { values: [0.002, 0.003, 0.004] });
  assert.equal(pass.verdict, "pass");
  assert.equal(pass.query, 'avfleet_packet_loss_ratio{pool="gcp-us-west1"}');
  assert.equal(pass.threshold, SLOS["packet-loss"].threshold);
  assert.equal(pass.samples, 3);
  const fail = judgeGate(gate(), "gcp-us-west1", { values: [0.03, 0.031, 0.029] });
  assert.equal(fail.verdict, "fail");
  assert.equal(fail.reason, "mean 0.03 over 3 samples, not < 0.01");
  // join success must stay above its threshold, not below
  const join = judgeGate(gate({ slo: "join-success" }), "p", { values: [0.99, 0.991, 0.99] });
  assert.equal(join.verdict, "fail");
  const overridden = judgeGate(gate({ threshold: 0.05 }), "p", { values: [0.03, 0.03, 0.03] });
  assert.equal(overridden.verdict, "pass");
});

test("no data, too few samples or a query error is inconclusive, never a pass", () => {
  assert.equal(judgeGate(gate(), "p", { values: [] }).verdict, "inconclusive");
  const few = judgeGate(gate({ minSamples: 5 }), "p", { values: [0.001, 0.001] });
  assert.equal(few.verdict, "inconclusive");
  assert.equal(few.reason, "2 sample(s), fewer than the 5 a verdict needs");
  const error = judgeGate(gate(), "p", { error: "503 Service Unavailable" });
  assert.equal(error.verdict, "inconclusive");
  assert.equal(error.queryError, "503 Service Unavailable");
});

test("property: fewer samples than the minimum never pass, whatever their values", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 19 }),
      (minSamples, values) => {
        fc.pre(values.length < minSamples);
        return judgeGate(gate({ minSamples }), "p", { values }).verdict === "inconclusive";
      },
    ),
  );
});

test("a round's verdict: a critical failure outranks a failure, which outranks inconclusive", () => {
  const e = (verdict: GateEvaluation["verdict"], critical = true) =>
    ({ verdict, critical }) as GateEvaluation;
  assert.equal(roundVerdict([e("pass"), e("pass")]), "pass");
  assert.equal(roundVerdict([e("pass"), e("inconclusive")]), "inconclusive");
  assert.equal(roundVerdict([e("inconclusive"), e("fail", false)]), "fail");
  assert.equal(
    roundVerdict([e("fail", false), e("fail", true), e("inconclusive")]),
    "critical-fail",
  );
});
