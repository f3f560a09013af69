import { test } from "node:test";
import assert from "node:assert/strict";
import { planUnits } from "../../modules/runbook/plan";
import { commandLine } from "../../modules/runbook/pulumi-args";
import { loadRunbook } from "../../modules/runbook/runbook";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { avfleet, ROOT } from "../support/cli";
import { FIXTURE_STACKS, tempDir, US_WEST, writeRunbook } from "../migrate/support";

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

test("migrate plan refuses a scale step below the hosts preview says the target needs (#27 finding 7)", () => {
  const stacks = join(ROOT, "stacks");
  // The example is sized to what preview says gcp-us-west1 needs: it plans clean.
  assert.equal(avfleet(["migrate", "plan", US_WEST, "--stacks-dir", stacks]).code, 0);
  const preview = avfleet(["preview", "gcp-us-west1", "--stacks-dir", stacks]);
  assert.match(preview.stdout, /66 hosts needed with N\+1/);

  const doc = YAML.parse(readFileSync(US_WEST, "utf8"));
  const scale = doc.steps.findIndex((s: any) => s.kind === "scale");
  doc.steps[scale].minHosts = 40;
  const file = writeRunbook(tempDir(), doc);
  const r = avfleet(["migrate", "plan", file, "--stacks-dir", stacks]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /2\. scale gcp-us-west1 to at least 40 hosts/, "the plan still prints");
  assert.ok(
    r.stdout.endsWith(
      `REFUSED: ${file}: steps[${scale}].minHosts: scales gcp-us-west1 to 40 hosts, but its demand needs 66 (avfleet preview gcp-us-west1: hosts needed with N+1), expected minHosts ≥ 66\n`,
    ),
    r.stdout,
  );
  const json = avfleet(["migrate", "plan", file, "--stacks-dir", stacks, "--json"]);
  assert.equal(json.code, 1);
  assert.deepEqual(JSON.parse(json.stdout).shortfalls, [
    { step: scale, key: `steps[${scale}].minHosts`, stack: "gcp-us-west1", asked: 40, needed: 66 },
  ]);
});
