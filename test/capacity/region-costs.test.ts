/** Costs that know their region, their share of the region's traffic, and their network. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import {
  fleetEconomics,
  metalShortfall,
  monthlyEgressGb,
  streamsPerHostAt,
  tieredEgressUsd,
} from "../../modules/capacity/capacity";
import {
  egressTiersIn,
  hourlyUsdIn,
  pricedRegions,
  regionPrice,
} from "../../modules/capacity/region-prices";
import { loadStackFile } from "../../modules/stacks/stack";
import { evaluateStacks } from "../../modules/evaluation/evaluate";
import { ROOT } from "../support/cli";

test("Tokyo and Singapore cost more than us-central1 and us-east-1 for the same machine type", () => {
  assert.equal(hourlyUsdIn("c2d-highcpu-32", "us-central1"), 1.16);
  assert.ok(Math.abs(hourlyUsdIn("c2d-highcpu-32", "asia-northeast1") - 1.16 * 1.29) < 1e-9);
  assert.ok(Math.abs(hourlyUsdIn("c2d-highcpu-32", "asia-southeast1") - 1.16 * 1.23) < 1e-9);
  assert.equal(hourlyUsdIn("c7gn.8xlarge", "us-east-1"), 1.997);
  assert.ok(Math.abs(hourlyUsdIn("c7gn.8xlarge", "ap-southeast-1") - 1.997 * 1.25) < 1e-9);
  assert.ok(Math.abs(hourlyUsdIn("c7gn.8xlarge", "ap-northeast-1") - 1.997 * 1.29) < 1e-9);
});

test("APAC egress: Singapore's first tier is a third dearer than us-east-1's, Tokyo's 27 %", () => {
  const first = (provider: "gcp" | "aws", region: string) =>
    egressTiersIn(provider, region)[0].usdPerGb;
  assert.equal(first("aws", "us-east-1"), 0.09);
  assert.ok(Math.abs(first("aws", "ap-southeast-1") / 0.09 - 4 / 3) < 1e-9);
  assert.ok(Math.abs(first("aws", "ap-northeast-1") / 0.09 - 1.2667) < 1e-4);
  assert.ok(first("gcp", "asia-northeast1") > first("gcp", "us-central1"));
});

test("every price row names its source and date, and every example stack's region has one", () => {
  for (const provider of ["gcp", "aws"] as const) {
    for (const region of pricedRegions(provider)) {
      const row = regionPrice(provider, region);
      assert.match(row.date, /^\d{4}-\d{2}-\d{2}$/);
      assert.ok(row.source.length > 30, `${provider} ${region}`);
      assert.ok(egressTiersIn(provider, region).length > 0);
    }
  }
  assert.throws(
    () => regionPrice("gcp", "mars-north1"),
    /no price row in modules\/capacity\/region-price-table.json/,
  );
});

test("a host forwards the tighter of its CPU's and its NIC's streams", () => {
  const host = { streamsPerHost: 4800, egressGbps: 32 };
  const demand = {
    peakParticipants: 1,
    streamsPerParticipant: 4,
    avgStreamKbps: 800,
    headroom: 0.3,
    peakToAverage: 2.5,
  };
  assert.equal(
    streamsPerHostAt(host, demand),
    4800,
    "at 800 kbit/s the CPU binds (32 Gbit/s = 40,000 streams)",
  );
  assert.equal(
    streamsPerHostAt(host, { ...demand, avgStreamKbps: 10000 }),
    3200,
    "at 10 Mbit/s the NIC does",
  );
});

test("a pool's egress follows its share of the region's traffic; its capacity does not", () => {
  const stack = loadStackFile(join(ROOT, "stacks/Pulumi.gcp-us-west1.yaml"));
  const whole = fleetEconomics(stack.fleet!, undefined, { region: "us-west1", trafficShare: 1 });
  const tenth = fleetEconomics(stack.fleet!, undefined, { region: "us-west1", trafficShare: 0.1 });
  const gb = monthlyEgressGb(stack.fleet!.demand);
  assert.equal(
    tenth.cost.egressMonthlyUsd,
    Math.round(tieredEgressUsd(gb * 0.1, egressTiersIn("gcp", "us-west1"))),
  );
  assert.ok(tenth.cost.egressMonthlyUsd < 0.11 * whole.cost.egressMonthlyUsd);
  assert.deepEqual(tenth.capacity, whole.capacity);
});

test("a bare-metal shortfall is counted in hosts of the class the site would add, after losing a rack", () => {
  const demand = {
    peakParticipants: 40000,
    streamsPerParticipant: 4,
    avgStreamKbps: 800,
    headroom: 0.3,
    peakToAverage: 2.5,
  };
  const big = { streamsPerHost: 9000, egressGbps: 80 };
  // 208,000 streams needed; racks of 108,000 + 99,000 + 49,500 + 45,000: losing the first
  // leaves 193,500. Two more big hosts over the racks lift the survivors past 208,000.
  const racks = [108000, 99000, 49500, 45000].map((streams) => ({ streams, egressGbps: 1000 }));
  assert.equal(metalShortfall(racks, big, demand), 2);
  const even = [75375, 75375, 75375, 75375].map((streams) => ({ streams, egressGbps: 1000 }));
  assert.equal(metalShortfall(even, big, demand), 0);
});

test("preview: a pool at weight 10 carries 10 % of its region's egress", async () => {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-share-"));
  cpSync(join(ROOT, "stacks"), join(dir, "stacks"), { recursive: true });
  cpSync(join(ROOT, "inventory"), join(dir, "inventory"), { recursive: true });
  const file = join(dir, "stacks/Pulumi.traffic-us-west.yaml");
  const doc = YAML.parse(readFileSync(file, "utf8"));
  doc.config["avfleet:traffic"].pools = [
    { stack: "metal-sjc", weight: 90 },
    { stack: "gcp-us-west1", weight: 10 },
  ];
  writeFileSync(file, YAML.stringify(doc));
  const [plan] = await evaluateStacks([
    { name: "gcp-us-west1", file: join(dir, "stacks/Pulumi.gcp-us-west1.yaml") },
  ]);
  const fleet = loadStackFile(join(dir, "stacks/Pulumi.gcp-us-west1.yaml")).fleet!;
  assert.equal(plan.cost!.trafficShare, 0.1);
  assert.equal(
    plan.cost!.egressMonthlyUsd,
    Math.round(
      tieredEgressUsd(monthlyEgressGb(fleet.demand) * 0.1, egressTiersIn("gcp", "us-west1")),
    ),
  );
});
