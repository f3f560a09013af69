import { test, before } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import fc from "fast-check";
import { listStacks, loadStackFile, validateStackDocument } from "../../modules/stacks/stack";
import { servingPools, weightStep } from "../../modules/traffic/weights";
import type { Plan } from "../../modules/plan/plan";
import { ROOT } from "../support/cli";
import { evaluateExamples, resource } from "../support/plans";
import { problemsLoading } from "../support/problems";

const example = (stack: string) =>
  YAML.parse(readFileSync(join(ROOT, `stacks/Pulumi.${stack}.yaml`), "utf8"));
const US_WEST = example("traffic-us-west");
const EU_WEST = example("traffic-eu-west");

/** Problems of a changed traffic-us-west (or `base`), checked against the example fleet stacks. */
function problems(change: (traffic: any) => void, base = US_WEST): string[] {
  const doc = structuredClone(base);
  change(doc.config["avfleet:traffic"]);
  return problemsLoading(
    (file) => {
      // The pools are looked up in stacks/, next to the real stack file.
      const { validateStackDocument } = require("../../modules/stacks/stack");
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
  plans = await evaluateExamples("traffic-us-west", "traffic-eu-west", "gcp-europe-west4");
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

test("Cloud DNS: one A record set, every serving pool's weight and addresses, probed by one health check", () => {
  const euWest = plans[1];
  const record = resource(euWest, "traffic-eu-west-wrr");
  const health = resource(euWest, "traffic-eu-west-health");
  assert.equal(record.inputs.type, "A", "health-checked targets are IPs");
  assert.deepEqual(record.inputs.routingPolicy, {
    healthCheck: record.inputs.routingPolicy.healthCheck,
    wrrs: [
      // metal-ams: the addresses its stack declares for edge.ams.media.example.net
      {
        weight: 95,
        healthCheckedTargets: { externalEndpoints: ["198.51.100.40", "198.51.100.41"] },
      },
      // gcp-europe-west4: its load balancer's address, as its own stack's mock gives it
      {
        weight: 5,
        healthCheckedTargets: {
          externalEndpoints: [resource(plans[2], "gcp-euw4-lb-rule").inputs.ipAddress],
        },
      },
    ],
  });
  assert.match(record.inputs.routingPolicy.healthCheck, /^traffic-eu-west-health/);
  assert.equal(record.inputs.ttl, 30);
  assert.deepEqual(health.inputs, {
    project: "media-prod-euw4",
    description: "avfleet: joins of eu-west go only to pools that answer",
    sourceRegions: ["europe-west1", "europe-west3", "europe-west4"],
    checkIntervalSec: 30,
    timeoutSec: 5,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
    tcpHealthCheck: { port: 443, portSpecification: "USE_FIXED_PORT" },
  });
  const refs = euWest.resources.filter((r) => r.type === "pulumi:pulumi:StackReference");
  assert.deepEqual(refs.map((r) => r.inputs.name).sort(), [
    "organization/avfleet/gcp-europe-west4",
    "organization/avfleet/metal-ams",
    "organization/avfleet/traffic-eu-west",
  ]);
});

test("a Cloud DNS split needs probe regions, and pools that publish the addresses it probes on one port", () => {
  assert.deepEqual(
    problems((t) => delete t.dns.healthCheckRegions, EU_WEST),
    [
      "config.avfleet:traffic.dns.healthCheckRegions: is missing, expected three Google Cloud regions Cloud DNS probes the pools' endpoints from: a record without a health check keeps sending joins to a dead pool",
    ],
  );
  assert.deepEqual(
    problems((t) => (t.dns.healthCheckRegions = ["europe-west1", "europe-west4"]), EU_WEST),
    [
      "config.avfleet:traffic.dns.healthCheckRegions: has 2, expected Cloud DNS: the three Google Cloud regions its health checks probe each pool's endpoint from, e.g. [europe-west1, europe-west3, europe-west4], with at least 3 entries",
    ],
  );
  // The pools as the fleet stacks declare them, changed in a copy of stacks/.
  const withFleets = (
    change: Record<string, (fleet: any) => void>,
    changeTraffic: (t: any) => void = () => {},
  ) => {
    const root = mkdtempSync(join(tmpdir(), "avfleet-traffic-"));
    // A copy: a stack may not read an inventory through a link out of its project.
    cpSync(join(ROOT, "inventory"), join(root, "inventory"), { recursive: true });
    mkdirSync(join(root, "stacks"));
    for (const stack of listStacks(join(ROOT, "stacks"))) {
      const doc = example(stack);
      change[stack]?.(doc.config["avfleet:fleet"]);
      writeFileSync(join(root, `stacks/Pulumi.${stack}.yaml`), YAML.stringify(doc));
    }
    return problemsLoading(
      (file) =>
        validateStackDocument(file, YAML.parse(readFileSync(file, "utf8")), join(root, "stacks")),
      "Pulumi.traffic-x.yaml",
      YAML.stringify(
        ((doc) => (changeTraffic(doc.config["avfleet:traffic"]), doc))(structuredClone(EU_WEST)),
      ),
    );
  };
  // An AWS pool of the region: its network load balancer has no fixed address to probe.
  assert.deepEqual(
    withFleets(
      {
        "aws-eu-central-1": (f) => (
          (f.mediaRegion = "eu-west"),
          (f.endpoint = "edge.aws.example.net")
        ),
      },
      (t) => (t.pools[1].stack = "aws-eu-central-1"),
    ),
    [
      'config.avfleet:traffic.pools[1].stack: is "aws-eu-central-1", an AWS pool: its network load balancer has no fixed IP addresses for a health-checked Cloud DNS record, expected a GCP or bare-metal pool, or dns.provider route53',
    ],
  );
  assert.deepEqual(withFleets({ "metal-ams": (f) => delete f.endpointAddresses }), [
    'config.avfleet:traffic.pools[0].stack: is "metal-ams", whose fleet declares no endpointAddresses, expected avfleet:fleet.endpointAddresses in metal-ams: the IPv4 addresses edge.ams.media.example.net answers on, which the Cloud DNS health check probes',
  ]);
  assert.deepEqual(
    withFleets({ "gcp-europe-west4": (f) => (f.ports.signalingTcp = [7881, 443]) }),
    [
      "config.avfleet:traffic.pools: serve joins on different first signaling ports (443 on metal-ams, 7881 on gcp-europe-west4), expected one port: a Cloud DNS record has one health check, probing every pool on the same port",
    ],
  );
});
