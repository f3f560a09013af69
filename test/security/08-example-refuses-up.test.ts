/**
 * Finding 8: `avfleet:example: true` silenced the mandatory placeholder policy, and nothing
 * refused a real `pulumi up` of such a stack. The program now throws in an update of an example
 * stack before it declares anything, and the pack refuses one when the engine says it is not a
 * preview. Both run here under Pulumi's mock runtime, preview on and off.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { loadStackFile, pulumiConfigMap } from "../../modules/stacks/stack";
import { InputError } from "../../modules/inputs/problems";
import { evaluatePolicies } from "../../modules/policy-runner/runner";
import { POLICIES } from "../../modules/policy-runner";
import { evaluateExamples } from "../support/plans";

const exampleNeverApplied = POLICIES.find((p) => p.name === "example-never-applied")!;

const STACK = "gcp-us-west1";
const FILE = `stacks/Pulumi.${STACK}.yaml`;

const REFUSAL = `${FILE}: config.avfleet:example: is true, and this is an update: an example stack is previewed, never applied, expected your own value for every placeholder (avfleet policy lists them), then avfleet:example removed`;

/** Pulumi's mock runtime holding the example stack's config (or it made real), counting what is declared. */
async function mockRuntime(preview: boolean, example = true) {
  const declared: string[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: ({ type, name, inputs }) => {
        declared.push(`${type}::${name}`);
        return { id: `${name}-id`, state: inputs };
      },
      call: ({ inputs }) => inputs,
    },
    "avfleet",
    STACK,
    preview,
  );
  const document = structuredClone(loadStackFile(FILE).document);
  if (!example) delete document.config["avfleet:example"];
  const { config, secretKeys } = pulumiConfigMap(document);
  pulumi.runtime.setAllConfig(config, secretKeys);
  return declared;
}

test("program: a preview of an example stack reads it", async () => {
  await mockRuntime(true);
  const { stackFromPulumi } = await import("../../modules/program/stack");
  assert.equal(stackFromPulumi().document.config["avfleet:example"], true);
});

test("program: an update of a stack that is not an example reads it", async () => {
  await mockRuntime(false, false);
  const { stackFromPulumi } = await import("../../modules/program/stack");
  assert.equal(stackFromPulumi().document.config["avfleet:fleet"]?.pool, "gcp-usw1");
});

test("program: an update of an example stack throws before it declares any resource", async () => {
  const declared = await mockRuntime(false);
  // the program is an exported function, as Pulumi's Node.js host calls and awaits it
  const program: () => Promise<unknown> = require("../../index");
  await assert.rejects(program(), (err: unknown) => {
    assert.ok(err instanceof InputError, String(err));
    assert.deepEqual(err.lines, [REFUSAL]);
    return true;
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(declared, []);
});

test("pack: an example stack passes a preview and is refused in an update; a real stack is not", async () => {
  const [plan] = await evaluateExamples(STACK);
  const judge = (preview: boolean, p = plan) =>
    evaluatePolicies(p, [exampleNeverApplied], { preview }).violations.map(
      (v) => `${v.level} ${v.urn.split("::").pop()}: ${v.message}`,
    );
  assert.deepEqual(judge(true), []);
  assert.deepEqual(judge(false), [
    "mandatory stack-facts: avfleet:example is true, and this is an update: an example stack is never applied",
  ]);
  const real = structuredClone(plan);
  const facts = real.resources.find((r) => r.name === "stack-facts")!;
  facts.inputs = { ...facts.inputs, example: false };
  assert.deepEqual(judge(false, real), []);
  // The runner puts back the SDK's own setting: the mock runtime's here.
  await pulumi.runtime.setMocks(
    { newResource: () => ({ id: "", state: {} }), call: () => ({}) },
    "avfleet",
    STACK,
    false,
  );
  judge(true);
  assert.equal(pulumi.runtime.isDryRun(), false);
});
