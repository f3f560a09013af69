/**
 * #27 finding 4: a newcomer's stack file reported `endpointAddresses` (a metal pool in a Cloud
 * DNS split) only after the first round of fixes. One run over the stacks names every problem
 * of every file, whichever check finds it: the schema, a fleet's own checks, what the split
 * needs of its pools, what tuning derives from a host class.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { InputError } from "../../modules/inputs/problems";
import { loadStacks } from "../../modules/stacks/stack";
import { ROOT } from "../support/cli";

/** A copy of the eu-west example (a Cloud DNS split over metal-ams and gcp-europe-west4), edited. */
function project(edit: { fleet: (f: any) => void; split: (t: any) => void; site: (i: any) => void }) {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-stages-"));
  mkdirSync(join(dir, "stacks"));
  mkdirSync(join(dir, "inventory"));
  cpSync(join(ROOT, "stacks/Pulumi.gcp-europe-west4.yaml"), join(dir, "stacks/Pulumi.gcp-europe-west4.yaml"));
  const edited = (from: string, to: string, change: (doc: any) => void) => {
    const doc = YAML.parse(readFileSync(join(ROOT, from), "utf8"));
    change(doc);
    writeFileSync(join(dir, to), YAML.stringify(doc));
  };
  edited("stacks/Pulumi.metal-ams.yaml", "stacks/Pulumi.metal-ams.yaml", (d) => edit.fleet(d.config["avfleet:fleet"]));
  edited("stacks/Pulumi.traffic-eu-west.yaml", "stacks/Pulumi.traffic-eu-west.yaml", (d) => edit.split(d.config["avfleet:traffic"]));
  edited("inventory/metal-ams.yaml", "inventory/metal-ams.yaml", edit.site);
  return join(dir, "stacks");
}

function problems(stacksDir: string): string[] {
  try {
    loadStacks(stacksDir, ["gcp-europe-west4", "metal-ams", "traffic-eu-west"]);
  } catch (err) {
    assert.ok(err instanceof InputError, String(err));
    return err.lines.map((line) => line.replace(`${join(stacksDir, "..")}/`, ""));
  }
  assert.fail("the stacks were accepted");
}

test("one run names the problems of every stage and every file", () => {
  const dir = project({
    fleet: (f) => {
      delete f.workload; // schema
      delete f.endpointAddresses; // what the Cloud DNS split needs of its pool
      f.minHosts = 3; // the fleet's own checks
    },
    split: (t) => {
      t.dns.ttl = "thirty"; // schema, in the split's dns mapping
      t.pools[1].weight = 10; // the weights' sum
    },
    site: (inv) => {
      const [name] = Object.keys(inv.hostClasses);
      inv.hostClasses[name].cores = 2; // what tuning derives from the class
    },
  });
  const lines = problems(dir);
  const at = (prefix: string) => lines.filter((l) => l.startsWith(prefix));
  const workload = at("stacks/Pulumi.metal-ams.yaml: config.avfleet:fleet.workload: is missing");
  assert.equal(workload.length, 1, lines.join("\n"));
  assert.match(workload[0], /of which version, adminPort, package or image are required$/);
  assert.equal(at("stacks/Pulumi.metal-ams.yaml: config.avfleet:fleet.minHosts: is set on a metal fleet").length, 1, lines.join("\n"));
  assert.match(lines.join("\n"), /inventory\/metal-ams\.yaml: hostClasses\.[^:]+\.cores: is 2: the tuning derives mediaWorkerCpus/);
  assert.equal(at("stacks/Pulumi.traffic-eu-west.yaml: config.avfleet:traffic.dns.ttl: ").length, 1, lines.join("\n"));
  assert.equal(at("stacks/Pulumi.traffic-eu-west.yaml: config.avfleet:traffic.pools: ").filter((l) => /sum|100/.test(l)).length, 1, lines.join("\n"));
  assert.deepEqual(
    at("stacks/Pulumi.traffic-eu-west.yaml: config.avfleet:traffic.pools[0].stack: "),
    [
      'stacks/Pulumi.traffic-eu-west.yaml: config.avfleet:traffic.pools[0].stack: is "metal-ams", whose stack file has problems, expected a valid fleet stack',
      'stacks/Pulumi.traffic-eu-west.yaml: config.avfleet:traffic.pools[0].stack: is "metal-ams", whose fleet declares no endpointAddresses, expected avfleet:fleet.endpointAddresses in metal-ams: the IPv4 addresses edge.ams.media.example.net answers on, which the Cloud DNS health check probes',
    ],
  );
});

test("a pool whose file is not YAML is named once, with no guess at what it declares", () => {
  const dir = project({ fleet: () => {}, split: () => {}, site: () => {} });
  writeFileSync(join(dir, "Pulumi.metal-ams.yaml"), "config: [unclosed\n");
  const split = problems(dir).filter((l) => l.startsWith("stacks/Pulumi.traffic-eu-west.yaml"));
  assert.deepEqual(split, [
    'stacks/Pulumi.traffic-eu-west.yaml: config.avfleet:traffic.pools[0].stack: is "metal-ams", whose stack file has problems, expected a valid fleet stack',
  ]);
});
