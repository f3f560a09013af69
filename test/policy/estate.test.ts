import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadStackFile, stackFileName } from "../../modules/stacks/stack";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import type { Plan } from "../../modules/plan/plan";
import { REGION_DEMAND_POLICY, regionDemandViolations } from "../../modules/policy-runner/estate";
import { STACK_FACTS_TYPE } from "../../policy/contract/facts";
import { ROOT } from "../support/cli";

const STACKS = ["gcp-us-west1", "metal-sjc", "gcp-europe-west4", "metal-ams", "traffic-us-west"];

/** What the estate check reads of a Plan: its name and its facts resource. */
const plan = (name: string): Plan => ({
  name,
  resources: [
    {
      urn: `urn:pulumi:${name}::avfleet::${STACK_FACTS_TYPE}::facts`,
      type: STACK_FACTS_TYPE,
      name: "facts",
      custom: true,
      inputs: {},
    },
  ],
  outputs: {},
});

function fleets(change?: (fleets: Map<string, FleetSpec>) => void) {
  const map = new Map<string, FleetSpec>();
  for (const s of STACKS) {
    const fleet = loadStackFile(stackFileName(join(ROOT, "stacks"), s)).fleet;
    if (fleet) map.set(s, structuredClone(fleet));
  }
  change?.(map);
  return (stack: string) => map.get(stack);
}

test("the repository's pools of one media region declare one demand", () => {
  assert.deepEqual(regionDemandViolations(STACKS.map(plan), fleets()), []);
});

test("pools of one media region that declare different demand are flagged (#27 finding 7)", () => {
  const violations = regionDemandViolations(
    STACKS.map(plan),
    fleets((f) => {
      f.get("gcp-us-west1")!.demand.peakParticipants = 30000;
      f.get("gcp-us-west1")!.demand.headroom = 0.2;
    }),
  );
  assert.deepEqual(
    violations.map((v) => [v.stack, v.policy, v.level, v.message]),
    [
      [
        "gcp-us-west1",
        REGION_DEMAND_POLICY,
        "mandatory",
        "avfleet:fleet.demand of gcp-us-west1 differs from another pool of media region us-west: headroom 0.2, peakParticipants 30000 here, headroom 0.3, peakParticipants 40000 in metal-sjc",
      ],
      [
        "metal-sjc",
        REGION_DEMAND_POLICY,
        "mandatory",
        "avfleet:fleet.demand of metal-sjc differs from another pool of media region us-west: headroom 0.3, peakParticipants 40000 here, headroom 0.2, peakParticipants 30000 in gcp-us-west1",
      ],
    ],
    "eu-west's pools agree and are not named",
  );
  assert.equal(violations[0].urn, plan("gcp-us-west1").resources[0].urn);
  assert.match(violations[0].remediation, /same avfleet:fleet\.demand/);
});
