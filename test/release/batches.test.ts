import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { planBatches, unavailableHosts, type RolloutHost } from "../../modules/release/batches";

const site = (racks: number, perRack: number): RolloutHost[] =>
  Array.from({ length: racks * perRack }, (_, i) => ({
    name: `h${String(i).padStart(3, "0")}`,
    domain: `r${Math.floor(i / perRack) + 1}`,
  }));

test("a 24-host site of 3 racks: one canary, then batches of at most 4 hosts, one rack at a time", () => {
  const plan = planBatches(site(3, 8), { canaryShare: 0.01, maxUnavailable: 4, domainsAtOnce: 1 });
  assert.deepEqual(plan.canary, ["h000"]);
  assert.deepEqual(plan.batches, [
    ["h001", "h002", "h003", "h004"],
    ["h005", "h006", "h007"],
    ["h008", "h009", "h010", "h011"],
    ["h012", "h013", "h014", "h015"],
    ["h016", "h017", "h018", "h019"],
    ["h020", "h021", "h022", "h023"],
  ]);
  assert.equal(unavailableHosts("10%", 90), 9);
  assert.equal(unavailableHosts("1%", 50), 1, "at least one host");
  assert.deepEqual(planBatches([], { canaryShare: 0.01, maxUnavailable: 1, domainsAtOnce: 1 }), {
    canary: [],
    batches: [],
  });
});

test("property: every host once; canary ≥ 1 in one domain; no batch over its hosts or domains", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ rack: fc.integer({ min: 1, max: 6 }) }), {
        minLength: 1,
        maxLength: 120,
      }),
      fc.double({ min: 0, max: 0.5, noNaN: true }),
      fc.oneof(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 100 }).map((p) => `${p}%` as const),
      ),
      fc.integer({ min: 1, max: 3 }),
      (rows, canaryShare, maxUnavailable, domainsAtOnce) => {
        const hosts = rows.map((r, i) => ({ name: `h${i}`, domain: `r${r.rack}` }));
        const domainOf = new Map(hosts.map((h) => [h.name, h.domain]));
        const plan = planBatches(hosts, { canaryShare, maxUnavailable, domainsAtOnce });
        const all = [...plan.canary, ...plan.batches.flat()];
        assert.deepEqual([...all].sort(), hosts.map((h) => h.name).sort());
        const limit = unavailableHosts(maxUnavailable, hosts.length);
        const sizes = [...new Set(domainOf.values())].map(
          (d) => hosts.filter((h) => h.domain === d).length,
        );
        const wanted = Math.max(1, Math.ceil(canaryShare * hosts.length));
        assert.equal(plan.canary.length, Math.min(limit, Math.max(...sizes), wanted));
        assert.equal(new Set(plan.canary.map((n) => domainOf.get(n))).size, 1);
        for (const batch of plan.batches) {
          assert.ok(batch.length >= 1 && batch.length <= limit, `${batch.length} ≤ ${limit}`);
          assert.ok(new Set(batch.map((n) => domainOf.get(n))).size <= domainsAtOnce);
        }
      },
    ),
    { numRuns: 500 },
  );
});
