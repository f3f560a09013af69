/**
 * How long a host may drain, per platform (#28): AWS up to what its drain hook holds with the
 * agent's heartbeats, min(48 h, 100 x 7200 s) less the hook's margin; GCP and bare metal two
 * hours. Beyond: the file, the key path and the bound, exit 2, nothing previewed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { loadStackFile } from "../../modules/stacks/stack";
import { AWS_MAX_DRAIN_SEC } from "../../modules/config/aws-drain";
import { drainHook } from "../../modules/fleets/aws-args";
import { hookReleasesAt } from "../../modules/providers/aws";
import type { AwsFleetSpec } from "../../modules/config/fleet.schema";
import { avfleet, ROOT } from "../support/cli";
import { problemsLoading } from "../support/problems";

function stackWith(stack: string, drainSeconds: number, maxCutPerHost?: number): string {
  const doc = YAML.parse(readFileSync(join(ROOT, `stacks/Pulumi.${stack}.yaml`), "utf8"));
  doc.config["avfleet:fleet"].drainSeconds = drainSeconds;
  if (maxCutPerHost !== undefined)
    (doc.config["avfleet:fleet"].autoscaling ??= {}).maxCutPerHost = maxCutPerHost;
  return YAML.stringify(doc);
}

function load(text: string) {
  const file = join(mkdtempSync(join(tmpdir(), "drain-limit-")), "Pulumi.s.yaml");
  writeFileSync(file, text);
  return loadStackFile(file);
}

const problemsOf = (text: string) => problemsLoading(loadStackFile, "Pulumi.bad.yaml", text);

test("AWS takes a 4-hour drain and up to 47 h 58 min; its hook's heartbeatTimeout stays at AWS's 7200 s", () => {
  assert.equal(AWS_MAX_DRAIN_SEC, 172_680);
  for (const drainSeconds of [14_400, AWS_MAX_DRAIN_SEC]) {
    const fleet = load(stackWith("aws-us-east-1", drainSeconds)).fleet as AwsFleetSpec;
    assert.equal(fleet.drainSeconds, drainSeconds);
    const hook = drainHook(fleet);
    assert.equal(hook.heartbeatTimeout, 7200);
    // Heartbeating all along, the hook lets go at its global timeout: 48 h after it began,
    // past the drain and its round trip.
    assert.equal(hookReleasesAt(hook, 0, Infinity), 172_800);
    assert.ok(hookReleasesAt(hook, 0, Infinity) >= drainSeconds + 120);
  }
  assert.equal((load(stackWith("aws-us-east-1", 1800)).fleet as AwsFleetSpec).autoscaling.maxCutPerHost, 35);
});

test("beyond each platform's limit: the key path and the bound", () => {
  assert.deepEqual(problemsOf(stackWith("aws-us-east-1", AWS_MAX_DRAIN_SEC + 1)), [
    "config.avfleet:fleet.drainSeconds: is 172681, expected seconds a host may take to drain its calls before it goes; past two hours the agent heartbeats the drain hook, ≤ 172680",
  ]);
  // (A metal stack copied out of the project misses its inventory too: not this test's point.)
  for (const stack of ["gcp-us-west1", "metal-sjc"])
    assert.deepEqual(
      problemsOf(stackWith(stack, 14_400)).filter((p) => !p.includes(".inventory:")),
      [
      "config.avfleet:fleet.drainSeconds: is 14400, expected seconds a host may take to drain its calls before it goes, ≤ 7200",
    ],
    );
  assert.deepEqual(problemsOf(stackWith("aws-us-east-1", 1800, -1)), [
    "config.avfleet:fleet.autoscaling.maxCutPerHost: is -1, expected calls a host may be expected to still hold at the drain limit and be scaled in: above it, its agent protects it from scale-in, ≥ 0",
  ]);
});

test("a drain beyond AWS's limit stops preview with exit 2, naming the file", () => {
  const dir = mkdtempSync(join(tmpdir(), "drain-limit-"));
  writeFileSync(join(dir, "Pulumi.bad.yaml"), stackWith("aws-us-east-1", 200_000));
  const result = avfleet(["preview", "--stacks-dir", dir]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  assert.match(
    result.stderr,
    new RegExp(`^${join(dir, "Pulumi.bad.yaml")}: config\\.avfleet:fleet\\.drainSeconds: is 200000, expected .*, ≤ 172680\\n$`),
  );
});
