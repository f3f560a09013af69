/**
 * #27 finding 3: a policy's fix text sends the user to what they edit — a key of the stack
 * file (`avfleet:…`, or a provider's `gcp:`/`aws:` key) — or says at its start that there is
 * none and why (a resource only a program declaring it by hand gets wrong).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { POLICIES } from "../../policy/policies";

const NAMES_A_KEY = /\b(avfleet|gcp|aws):[a-zA-Z]/;
const SAYS_WHY_NONE = /^No stack-file key( for [^:]+)?[:(]? \S.{20,}/;

test("every policy's remediation names the stack-file key to edit, or says why there is none", () => {
  const vague = POLICIES.filter(
    (p) => !NAMES_A_KEY.test(p.remediationSteps) && !SAYS_WHY_NONE.test(p.remediationSteps),
  ).map((p) => `${p.name}: ${p.remediationSteps}`);
  assert.deepEqual(vague, []);
});

test("pool-endpoint-has-record's fix is endpointZone in the stack file, not code", () => {
  const policy = POLICIES.find((p) => p.name === "pool-endpoint-has-record")!;
  assert.match(
    policy.remediationSteps,
    /^Set avfleet:fleet\.endpointZone in stacks\/Pulumi\.<stack>\.yaml/,
  );
  assert.doesNotMatch(policy.remediationSteps, /modules\//);
});
