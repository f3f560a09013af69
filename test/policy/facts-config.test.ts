/**
 * The pack checks what the program claims: StackFacts against the stack's config, which the
 * engine hands the pack in PULUMI_CONFIG (policy/contract/stack-config.ts cites where).
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  listStacks,
  loadStackFile,
  pulumiConfigMap,
  stackFileName,
} from "../../modules/stacks/stack";
import type { Plan } from "../../modules/plan/plan";
import { POLICIES } from "../../modules/policy-runner";
import { evaluatePolicies } from "../../modules/policy-runner/runner";
import { stackConfig, stackName } from "../../policy/contract/stack-config";
import { ROOT } from "../support/cli";
import { evaluateExamples, resource } from "../support/plans";

const STACKS = join(ROOT, "stacks");
const plans = new Map<string, Plan>();
const configOf = (stack: string) =>
  pulumiConfigMap(loadStackFile(stackFileName(STACKS, stack)).document).config;

before(async () => {
  for (const plan of await evaluateExamples(...listStacks(STACKS))) plans.set(plan.name, plan);
});

const POLICY = POLICIES.filter((p) => p.name === "stack-facts-match-config");

function verdict(plan: Plan, config?: Record<string, string>) {
  const { violations, judged } = evaluatePolicies(plan, POLICY, { config });
  return { messages: violations.map((v) => v.message), judged: judged[POLICY[0].name] };
}

/** A copy of an example plan whose StackFacts say something else. */
function lying(stack: string, change: (facts: any) => void): Plan {
  const plan = structuredClone(plans.get(stack)!);
  change(resource(plan, "stack-facts").inputs);
  return plan;
}

test("every example stack's facts agree with its config, and are judged", () => {
  for (const [stack, plan] of plans) {
    assert.deepEqual(verdict(plan, configOf(stack)), { messages: [], judged: 1 }, stack);
  }
});

test("a program that raises its own maxStepPct is refused, though traffic-weights then passes", () => {
  const plan = lying("traffic-us-west", (facts) => (facts.traffic.maxStepPct = 100));
  assert.deepEqual(verdict(plan, configOf("traffic-us-west")).messages, [
    "StackFacts say traffic.maxStepPct 100, but the stack's config implies 25",
  ]);
});

test("a maxStepPct the config leaves out is the schema's default, and a lie about it is seen", () => {
  const config = configOf("traffic-us-west");
  const traffic = JSON.parse(config["avfleet:traffic"]);
  delete traffic.maxStepPct;
  const omitted = { ...config, "avfleet:traffic": JSON.stringify(traffic) };
  assert.deepEqual(verdict(plans.get("traffic-us-west")!, omitted).messages, []);
  const plan = lying("traffic-us-west", (facts) => (facts.traffic.maxStepPct = 50));
  assert.deepEqual(verdict(plan, omitted).messages, [
    "StackFacts say traffic.maxStepPct 50, but the stack's config implies 25",
  ]);
});

test("a program that calls a stack an example, whose config does not, is refused", () => {
  const config = { ...configOf("gcp-us-west1") };
  delete config["avfleet:example"];
  assert.deepEqual(verdict(plans.get("gcp-us-west1")!, config).messages, [
    "StackFacts say example true, but the stack's config implies false",
  ]);
  // The CLI's rewrite of the flag is a string: the same stack.
  assert.deepEqual(
    verdict(plans.get("gcp-us-west1")!, { ...config, "avfleet:example": "true" }).messages,
    [],
  );
});

test("a traffic config without its TrafficSplit is refused", () => {
  const plan = structuredClone(plans.get("traffic-us-west")!);
  const split = resource(plan, "traffic-us-west").urn;
  plan.resources = plan.resources.filter((r) => r.urn !== split && r.parent !== split);
  assert.deepEqual(verdict(plan, configOf("traffic-us-west")).messages, [
    "the stack's config sets avfleet:traffic, but the stack declares no avfleet:traffic:TrafficSplit: traffic-weights would judge nothing",
  ]);
});

test("fleet facts and settings that hide a config value are refused, naming keys, never values", () => {
  const plan = lying("gcp-us-west1", (facts) => {
    facts.fleet.drainSeconds = 60;
    facts.fleet.mediaUdp = { from: 10000, to: 10001 };
    delete facts.settings["avfleet:fleet.endpoint"];
  });
  assert.deepEqual(verdict(plan, configOf("gcp-us-west1")).messages, [
    'StackFacts say fleet.mediaUdp {"from":10000,"to":10001}, but the stack\'s config implies {"from":10000,"to":59999}',
    "StackFacts say fleet.drainSeconds 60, but the stack's config implies 1800",
    "StackFacts settings leave out or change 1 config string(s) (avfleet:fleet.endpoint): the placeholder policies would not see them",
  ]);
});

test("a stack of another name, or config from another stack, is refused", () => {
  const messages = verdict(plans.get("gcp-us-west1")!, configOf("gcp-europe-west4")).messages;
  assert.ok(
    messages.includes(
      'StackFacts say fleet.pool "gcp-usw1", but the stack\'s config implies "gcp-euw4"',
    ),
    messages.join("\n"),
  );
});

test("without the engine's config the check is not applicable, and a malformed one is none", () => {
  assert.deepEqual(verdict(plans.get("traffic-us-west")!), { messages: [], judged: 0 });
  assert.equal(stackConfig({}), undefined);
  assert.equal(stackConfig({ PULUMI_CONFIG: "[1]" }), undefined);
  assert.equal(stackConfig({ PULUMI_CONFIG: '{"a:b": 1}' }), undefined);
  assert.deepEqual(stackConfig({ PULUMI_CONFIG: '{"a:b": "1"}' }), { "a:b": "1" });
});

test("the stack's name: the language host's PULUMI_NODEJS_STACK first, then PULUMI_STACK by its last segment", () => {
  // CLI >= 3.221 sets only PULUMI_NODEJS_STACK; the operator's shell may export a qualified PULUMI_STACK.
  assert.equal(
    stackName({ PULUMI_NODEJS_STACK: "gcp-us-west1", PULUMI_STACK: "media-infra/avfleet/other" }),
    "gcp-us-west1",
  );
  assert.equal(stackName({ PULUMI_STACK: "organization/avfleet/gcp-us-west1" }), "gcp-us-west1");
  assert.equal(stackName({ PULUMI_STACK: "gcp-us-west1" }), "gcp-us-west1");
  assert.equal(stackName({ PULUMI_NODEJS_STACK: "" }), undefined);
  assert.equal(stackName({}), undefined);
});

test("offline, the pack gets its stack's name as the CLI's language host passes it", () => {
  const outside = process.env.PULUMI_STACK;
  process.env.PULUMI_STACK = "media-infra/avfleet/traffic-us-west";
  try {
    const gcp = plans.get("gcp-us-west1")!;
    assert.deepEqual(verdict(gcp, configOf("gcp-us-west1")).messages, []);
  } finally {
    if (outside === undefined) delete process.env.PULUMI_STACK;
    else process.env.PULUMI_STACK = outside;
  }
});
