import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import fc from "fast-check";
import { loadStackFile } from "../../modules/config/stack";
import { servingPools, weightStep } from "../../modules/traffic/weights";
import type { Plan } from "../../modules/plan/plan";
import { ROOT } from "../support/cli";
import { evaluateExamples, resource } from "../support/plans";
import { problemsLoading } from "../support/problems";

const US_WEST = YAML.parse(readFileSync(join(ROOT, "stacks/Pulumi.traffic-us-west.yaml"), "utf8"));

/** Problems of a changed traffic-us-west, checked against the example fleet stacks. */
function problems(change: (traffic: any) => void): string[] {
  const doc = structuredClone(US_WEST);
  change(doc.config["avfleet:traffic"]);
  return problemsLoading(
    (file) => {
      // The pools are looked up in stacks/, next to the real stack file.
      const { validateStackDocument } = require("../../modules/config/stack");
      return validateStackDocument(
        file,
        YAML.parse(readFileSync(file, "utf8")),
        join(ROOT, "stacks"),
      );
    },
    "Pulumi.traffic-x.yaml",
    YAML.stringify(doc),
  );
}

test("a weight change moves what the gaining pools gain", () => {
  assert.equal(weightStep({ a: 100, b: 0 }, { a: 95, b: 5 }), 5);
  assert.equal(weightStep({ a: 75, b: 25 }, { a: 50, b: 50 }), 25);
  assert.equal(weightStep({ a: 50, b: 50 }, { a: 50, b: 50 }), 0);
  assert.equal(weightStep({}, { a: 100 }), 100, "a first apply moves everything");
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (x, y) => {
      const moved = weightStep({ a: x, b: 100 - x }, { a: y, b: 100 - y });
      assert.equal(moved, Math.abs(x - y));
      assert.equal(moved, weightStep({ a: y, b: 100 - y }, { a: x, b: 100 - x }), "symmetric");
    }),
  );
});

test("weight-0 pools get no record (Route53 would serve them when the others are unhealthy)", () => {
  const spec = loadStackFile(join(ROOT, "stacks/Pulumi.traffic-us-west.yaml")).traffic!;
  assert.deepEqual(servingPools(spec), [{ stack: "metal-sjc", weight: 100 }]);
});

test("bad traffic splits are refused with the key path and what was expected", () => {
  assert.deepEqual(
    problems((t) => (t.pools[1].weight = 10)),
    ["config.avfleet:traffic.pools: weights sum to 110, expected weights that sum to 100"],
  );
  assert.deepEqual(
    problems((t) => (t.pools[1].stack = "gcp-us-west9")),
    [
      'config.avfleet:traffic.pools[1].stack: is "gcp-us-west9", which has no stack file, expected a fleet stack in ' +
        `${join(ROOT, "stacks")}: aws-eu-central-1, aws-us-east-1, gcp-europe-west4, gcp-us-west1, metal-ams, metal-sjc, traffic-eu-west, traffic-us-west`,
    ],
  );
  assert.deepEqual(
    problems((t) => (t.pools[1].stack = "gcp-europe-west4")),
    [
      'config.avfleet:traffic.pools[1].stack: is "gcp-europe-west4", which serves media region eu-west, expected a pool of us-west',
    ],
  );
  assert.deepEqual(
    problems((t) => (t.pools[1].stack = "traffic-eu-west")),
    [
      'config.avfleet:traffic.pools[1].stack: is "traffic-eu-west", not a fleet stack, expected a fleet stack',
    ],
  );
  assert.deepEqual(
    problems((t) => t.pools.push({ stack: "metal-sjc", weight: 0 })),
    [
      'config.avfleet:traffic.pools[2].stack: is "metal-sjc" again (pools[0]), expected each pool once',
    ],
  );
  assert.deepEqual(
    problems((t) => (t.pools[0].weight = 100.5)),
    [
      "config.avfleet:traffic.pools[0].weight: is number 100.5, expected a weight in 0–100 (an integer)",
    ],
  );
});

let plans: Plan[];
before(async () => {
  plans = await evaluateExamples("traffic-us-west", "traffic-eu-west");
});

test("Route53: one weighted CNAME per serving pool, one TTL, endpoint from the fleet stack, a health check each", () => {
  const [usWest] = plans;
  // A dead pool's endpoint stops answering on its signaling port: its record leaves the set.
  const health = resource(usWest, "traffic-us-west-metal-sjc-health");
  assert.deepEqual(health.inputs, {
    type: "TCP",
    fqdn: "edge.sjc.media.example.net",
    port: 443,
    requestInterval: 10,
    failureThreshold: 3,
    tags: { pool: "metal-sjc", "media-region": "us-west" },
  });
  assert.deepEqual(resource(usWest, "traffic-us-west-metal-sjc").inputs, {
    healthCheckId: resource(usWest, "traffic-us-west-metal-sjc").inputs.healthCheckId,
    zoneId: "Z04517273OFFLINE",
    name: "join.us-west.media.example.net",
    type: "CNAME",
    ttl: 30,
    setIdentifier: "metal-sjc",
    weightedRoutingPolicies: [{ weight: 100 }],
    records: ["edge.sjc.media.example.net"],
  });
  assert.equal(
    usWest.resources.filter((r) => r.type === "aws:route53/record:Record").length,
    1,
    "gcp-us-west1 at weight 0 has no record",
  );
  assert.deepEqual(resource(usWest, "traffic-us-west-metal-sjc").type, "aws:route53/record:Record");
  assert.deepEqual(usWest.outputs.weights, { "metal-sjc": 100, "gcp-us-west1": 0 });
});

test("Cloud DNS: one WRR record set with every serving pool's weight and endpoint", () => {
  const euWest = plans[1];
  assert.deepEqual(resource(euWest, "traffic-eu-west-wrr").inputs.routingPolicy, {
    wrrs: [
      { weight: 95, rrdatas: ["edge.ams.media.example.net."] },
      { weight: 5, rrdatas: ["edge.gcp-euw4.media.example.net."] },
    ],
  });
  assert.equal(resource(euWest, "traffic-eu-west-wrr").inputs.ttl, 30);
  const refs = euWest.resources.filter((r) => r.type === "pulumi:pulumi:StackReference");
  assert.deepEqual(refs.map((r) => r.inputs.name).sort(), [
    "organization/avfleet/gcp-europe-west4",
    "organization/avfleet/metal-ams",
    "organization/avfleet/traffic-eu-west",
  ]);
});
