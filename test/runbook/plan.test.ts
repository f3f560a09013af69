import { test } from "node:test";
import assert from "node:assert/strict";
import { planUnits } from "../../modules/runbook/plan";
import { commandLine } from "../../modules/runbook/pulumi-args";
import { loadRunbook } from "../../modules/runbook/runbook";
import { avfleet } from "../support/cli";
import { FIXTURE_STACKS, US_WEST } from "../migrate/support";

test("us-west plans one unit per weight, each moving only source and target", () => {
  const units = planUnits(loadRunbook(US_WEST, FIXTURE_STACKS));
  assert.deepEqual(
    units.map(
      (u) =>
        `${u.id} ${u.kind}${"weights" in u ? ` ${u.weights["gcp-us-west1"]}/${u.weights["metal-sjc"]}` : ""}`,
    ),
    [
      "1 preflight",
      "2 scale",
      "3 shift 1/99",
      "4 shift 5/95",
      "5 shift 25/75",
      "6 shift 50/50",
      "7 shift 75/25",
      "8 shift 100/0",
      "9 drain 100/0",
      "10 approve",
      "11 decommission",
    ],
  );
});

test("a shift unit's commands are the exact pulumi calls: read, set every pool and the step's marker in one write, up with the pack, read back", () => {
  const units = planUnits(loadRunbook(US_WEST, FIXTURE_STACKS));
  assert.deepEqual(units[4].commands.map(commandLine), [
    "pulumi stack output --json --stack traffic-us-west",
    "pulumi config set-all --path --plaintext 'avfleet:traffic.pools[0].weight=75' --plaintext 'avfleet:traffic.pools[1].weight=25' --plaintext 'avfleet:traffic.migration.seq=<seq>' --plaintext avfleet:traffic.migration.rollback=false --stack traffic-us-west",
    "pulumi up --yes --refresh --policy-pack policy --stack traffic-us-west",
    "pulumi stack output --json --stack traffic-us-west",
  ]);
});

test("avfleet migrate plan prints every step and its commands", () => {
  const r = avfleet(["migrate", "plan", US_WEST, "--stacks-dir", FIXTURE_STACKS]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /move us-west from metal-sjc to gcp-us-west1 through traffic-us-west \(11 steps\)/,
  );
  assert.match(
    r.stdout,
    / 5\. shift gcp-us-west1 to 25 %, bake 10m\n {4}weights → metal-sjc 75, gcp-us-west1 25/,
  );
  assert.match(
    r.stdout,
    /\$ pulumi up --yes --refresh --policy-pack policy --stack traffic-us-west/,
  );
  assert.match(
    r.stdout,
    /11\. decommission metal-sjc: retire its hosts\n.*\n {4}\$ pulumi destroy --yes --stack metal-sjc/,
  );
  const json = JSON.parse(
    avfleet(["migrate", "plan", US_WEST, "--stacks-dir", FIXTURE_STACKS, "--json"]).stdout,
  );
  assert.equal(json.steps.length, 11);
});
