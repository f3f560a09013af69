/**
 * #27 finding 1: `avfleet place` proposed a geo-steered traffic-us-west with both pools at 100
 * and gcp-us-west1 capped at 15 hosts, and nothing said that runbooks/us-west.yaml would then
 * scale to 66 under a cap of 15, skip its 1 → 75 % steps and move metal-sjc 100 → 0 at once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { formatProblems } from "../../modules/inputs/problems";
import { loadRunbook } from "../../modules/runbook/runbook";
import { proposalBreaks, type ProposedStack } from "../../modules/placement/check";
import { trafficSplits } from "../../modules/placement/stacks";
import { ROOT } from "../support/cli";

const stacksDir = join(ROOT, "stacks");
const splits = trafficSplits(stacksDir);
const runbooks = [loadRunbook(join(ROOT, "runbooks/us-west.yaml"), stacksDir)].map((r) => ({
  ...r,
  file: "runbooks/us-west.yaml",
}));

/** Today's stack file, parsed, with `edit` applied: a proposal as `place` would make it. */
function proposed(stack: string, edit: (config: any) => void): ProposedStack {
  const doc = YAML.parse(readFileSync(join(stacksDir, `Pulumi.${stack}.yaml`), "utf8"));
  edit(doc.config);
  return { stack, file: `out/Pulumi.${stack}.yaml`, proposed: doc };
}

const geoBoth = proposed("traffic-us-west", (c) => {
  c["avfleet:traffic"].dns.routing = "geoproximity";
  c["avfleet:traffic"].pools = [
    { stack: "metal-sjc", weight: 100, geo: { lat: 37.34, lon: -121.89 } },
    { stack: "gcp-us-west1", weight: 100, geo: { lat: 45.6, lon: -121.18 } },
  ];
});
const capped = (maxHosts: number) =>
  proposed("gcp-us-west1", (c) => {
    c["avfleet:fleet"].maxHosts = maxHosts;
    c["avfleet:fleet"].minHosts = Math.min(c["avfleet:fleet"].minHosts, maxHosts);
  });

test("the newcomer's proposal: each thing it would break, with the file, the key and why", () => {
  assert.deepEqual(formatProblems(proposalBreaks([capped(15), geoBoth], splits, runbooks)), [
    "out/Pulumi.gcp-us-west1.yaml: config.avfleet:fleet.maxHosts: is 15, below the 66 hosts runbooks/us-west.yaml steps[1] scales gcp-us-west1 to before traffic moves, expected at least 66 while runbooks/us-west.yaml runs",
    "out/Pulumi.traffic-us-west.yaml: config.avfleet:traffic.pools[1]: puts gcp-us-west1 in a geoproximity record set, which would send it every join nearest to it at once (gcp-us-west1 has weight 0 in traffic-us-west today), expected a move of at most 25 points (maxStepPct): a runbook moves it by weight first",
    "out/Pulumi.traffic-us-west.yaml: config.avfleet:traffic.dns.routing: is geoproximity, but runbooks/us-west.yaml shifts metal-sjc → gcp-us-west1 by weight, which a geoproximity record set does not have, expected weighted while runbooks/us-west.yaml runs",
    'runbooks/us-west.yaml: steps[2].weights: 1 would be skipped as "already at": traffic-us-west would start with gcp-us-west1 at 100, expected gcp-us-west1 below the runbook\'s weights when it starts',
    "runbooks/us-west.yaml: steps[3].weights[4]: weight 100 would move metal-sjc from 100 to 0 at once, expected steps of at most 25 points (maxStepPct of traffic-us-west)",
    'runbooks/us-west.yaml: steps[3].weights: 5, 25, 50, 75 would be skipped as "already at": traffic-us-west would start with gcp-us-west1 at 100, expected gcp-us-west1 below the runbook\'s weights when it starts',
  ]);
});

test("a proposal the runbook can live with breaks nothing: a cap at the runbook's floor, the split as it is", () => {
  assert.deepEqual(proposalBreaks([capped(66)], splits, runbooks), []);
  assert.deepEqual(
    proposalBreaks([proposed("traffic-us-west", () => {})], splits, runbooks),
    [],
    "today's weights are where the runbook starts",
  );
  // Without a runbook on the split, the split's own step rule still holds.
  assert.deepEqual(
    proposalBreaks([geoBoth], splits, []).map((p) => p.path.join(".")),
    ["config.avfleet:traffic.pools.1"],
  );
});

test("mid-migration: steps already passed today are not the proposal's doing", () => {
  const half = (c: any) => {
    c["avfleet:traffic"].pools = [
      { stack: "metal-sjc", weight: 50 },
      { stack: "gcp-us-west1", weight: 50 },
    ];
  };
  const today = splits.map((s) =>
    s.name === "traffic-us-west"
      ? { ...s, spec: proposed(s.name, half).proposed.config["avfleet:traffic"] as any }
      : s,
  );
  // The same weights proposed again: steps 1–25 are skipped today too. At 100, 50 is new.
  assert.deepEqual(proposalBreaks([proposed("traffic-us-west", half)], today, runbooks), []);
  // Weighted, but the target jumps to 100 and the source is dropped: both pools move 50.
  const jumped = proposed("traffic-us-west", (c) => {
    c["avfleet:traffic"].pools = [{ stack: "gcp-us-west1", weight: 100 }];
  });
  assert.deepEqual(
    formatProblems(proposalBreaks([jumped], today, runbooks)).map((l) => l.split(", expected")[0]),
    [
      "out/Pulumi.traffic-us-west.yaml: config.avfleet:traffic.pools[0]: moves gcp-us-west1 to weight 100 at once (gcp-us-west1 has weight 50 in traffic-us-west today)",
      "out/Pulumi.traffic-us-west.yaml: config.avfleet:traffic.pools: drops metal-sjc, whose joins would all move at once (metal-sjc has weight 50 in traffic-us-west today)",
      "out/Pulumi.traffic-us-west.yaml: config.avfleet:traffic.pools: drops metal-sjc, the source of runbooks/us-west.yaml",
      'runbooks/us-west.yaml: steps[3].weights: 50, 75 would be skipped as "already at": traffic-us-west would start with gcp-us-west1 at 100',
    ],
  );
});
