import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  demandStreams,
  hostsRequired,
  monthlyEgressGb,
  peakEgressGbps,
  tieredEgressUsd,
  fleetEconomics,
} from "../../modules/capacity/capacity";
import { MACHINE_TYPES_SOURCE } from "../../modules/machines/machine-types";
import { loadStackFile } from "../../modules/stacks/stack";

const demand = {
  peakParticipants: 40000,
  streamsPerParticipant: 4,
  avgStreamKbps: 800,
  headroom: 0.3,
  peakToAverage: 2.5,
};

test("demand: 40,000 participants × 4 streams × 1.3 headroom = 208,000 streams; 128 Gbit/s at the peak", () => {
  assert.equal(demandStreams(demand), 208000);
  assert.equal(peakEgressGbps(demand), 128);
});

test("hosts required: streams bind (208,000 / 4,800 → 44), N+1 over 3 zones → 66", () => {
  assert.equal(hostsRequired(demand, { streamsPerHost: 4800, egressGbps: 32 }, 3), 66);
  // One zone: one spare host.
  assert.equal(hostsRequired(demand, { streamsPerHost: 4800, egressGbps: 32 }, 1), 45);
  // Egress binds when hosts have little bandwidth: 128 × 1.3 / 2 = 83.2 → 84, over 2 racks → 168.
  assert.equal(hostsRequired(demand, { streamsPerHost: 100000, egressGbps: 2 }, 2), 168);
  assert.equal(
    hostsRequired({ ...demand, peakParticipants: 0 }, { streamsPerHost: 4800, egressGbps: 32 }, 3),
    0,
  );
});

/** Hosts left after losing the largest failure domain (or one host, with a single domain). */
const survivors = (hosts: number, domains: number) =>
  domains >= 2 ? hosts - Math.ceil(hosts / domains) : hosts - 1;

test("property: after losing the largest failure domain the remaining hosts still carry the base", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 400000 }),
      fc.integer({ min: 100, max: 10000 }),
      fc.integer({ min: 1, max: 8 }),
      (participants, streamsPerHost, domains) => {
        const d = { ...demand, peakParticipants: participants };
        const base = Math.ceil(demandStreams(d) / streamsPerHost);
        const hosts = hostsRequired(d, { streamsPerHost, egressGbps: 1e9 }, domains);
        const left = survivors(hosts, domains);
        assert.ok(left >= base, `${hosts} hosts over ${domains} domains leave ${left} < ${base}`);
        // …and not more than needed: one host fewer would not survive.
        assert.ok(survivors(hosts - 1, domains) < base);
      },
    ),
  );
});

test("egress tiers: each tier prices its own slice of the month's volume", () => {
  const gcp = [
    { upToGb: 1024, usdPerGb: 0.12 },
    { upToGb: 10240, usdPerGb: 0.11 },
    { upToGb: null, usdPerGb: 0.08 },
  ];
  assert.equal(tieredEgressUsd(0, gcp), 0);
  assert.ok(Math.abs(tieredEgressUsd(500, gcp) - 60) < 1e-9);
  assert.ok(Math.abs(tieredEgressUsd(2000, gcp) - (1024 * 0.12 + 976 * 0.11)) < 1e-9);
  // 128 Gbit/s peak / 2.5 = 51.2 Gbit/s average × 730 h → 16,819,200 GB a month.
  assert.equal(monthlyEgressGb(demand), 16819200);
  assert.ok(Math.abs(tieredEgressUsd(16819200, gcp) - 1345853.44) < 1e-6);
});

test("GCP stack: compute $1.16/h × 730 h × 6..90 hosts; egress apart; capacity at max hosts", () => {
  const stack = loadStackFile("stacks/Pulumi.gcp-us-west1.yaml");
  assert.deepEqual(fleetEconomics(stack.fleet!, stack.inventory), {
    capacity: {
      demandStreams: 208000,
      capacityStreams: 432000,
      hostsRequired: 66,
      shortfallHosts: 0,
    },
    cost: {
      computeMonthlyUsd: { min: 5081, max: 76212 },
      egressMonthlyUsd: 1345853,
      trafficShare: 1,
    },
  });
});

test("bare metal: active hosts carry, non-retired hosts cost, transit billed on the peak", () => {
  // metal-sjc: active r640 ×21 (4,500 streams) + r6525 ×23 (9,000) = 301,500 streams;
  // paid for: 22 × $520 + 24 × $910 = $33,280; transit 128 Gbit/s × $320.
  const stack = loadStackFile("stacks/Pulumi.metal-sjc.yaml");
  assert.deepEqual(fleetEconomics(stack.fleet!, stack.inventory), {
    capacity: {
      demandStreams: 208000,
      capacityStreams: 301500,
      hostsRequired: 44,
      shortfallHosts: 0,
      shortfallClass: "r6525-2x100g",
    },
    cost: {
      computeMonthlyUsd: { min: 33280, max: 33280 },
      egressMonthlyUsd: 40960,
      trafficShare: 1,
    },
  });
});

test("a stack whose max capacity cannot cover its demand reports the shortfall", () => {
  const stack = loadStackFile("stacks/Pulumi.gcp-us-west1.yaml");
  const spec = { ...stack.fleet!, maxHosts: 50 } as NonNullable<typeof stack.fleet>;
  assert.equal(fleetEconomics(spec).capacity.shortfallHosts, 16);
});

test("the machine-type table names its source and date", () => {
  assert.match(MACHINE_TYPES_SOURCE.date, /^\d{4}-\d{2}-\d{2}$/);
  assert.ok(MACHINE_TYPES_SOURCE.source.length > 40);
});
