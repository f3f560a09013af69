/** The diff's pure parts: Plan comparison, replacement rules, summary rows, rendering. */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { diffPlans, diffValues } from "../../modules/diff/diff";
import { forcesReplacement } from "../../modules/providers/replacement";
import { GITHUB_COMMENT_LIMIT, renderMarkdown, renderText } from "../../modules/diff/report";
import { summarizeStack } from "../../modules/diff/summary";
import { verdictChanges, type Violation } from "../../modules/diff/verdicts";
import { SECRET, type Plan } from "../../modules/plan/plan";
import { plan, report, resource, urn } from "./plans";

const FIREWALL = "gcp:compute/firewall:Firewall";
const NO_VERDICTS = { introduced: [], resolved: [] };
const TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate";
const COMMAND = "command:local:Command";

test("diffValues: leaf paths, array indexes, quoted keys, absent sides", () => {
  assert.deepEqual(
    diffValues(
      { allows: [{ ports: ["10000-59999"] }], metadata: { "user-data": "a" }, gone: 1 },
      { allows: [{ ports: ["20000-59999"] }], metadata: { "user-data": "b" }, added: [1] },
    ),
    [
      { path: "added", after: [1] },
      { path: "allows[0].ports[0]", before: "10000-59999", after: "20000-59999" },
      { path: "gone", before: 1 },
      { path: 'metadata["user-data"]', before: "a", after: "b" },
    ],
  );
  assert.deepEqual(diffValues({ a: [1, 2] }, { a: [1, 2] }), []);
});

test("diffPlans: create, delete, in-place update, replacement forced by the table", () => {
  const base = plan("s", [
    resource("s", FIREWALL, "fw", { name: "fw", direction: "INGRESS", sourceRanges: ["a"] }),
    resource("s", TEMPLATE, "tpl", { machineType: "c2d-highcpu-32" }),
    resource("s", FIREWALL, "old", { name: "old" }),
    resource("s", FIREWALL, "same", { name: "same", secret: SECRET }),
  ]);
  const head = plan("s", [
    resource("s", FIREWALL, "fw", { name: "fw", direction: "INGRESS", sourceRanges: ["b"] }),
    resource("s", TEMPLATE, "tpl", { machineType: "c2d-highcpu-56" }),
    resource("s", FIREWALL, "new", { name: "new" }),
    resource("s", FIREWALL, "same", { name: "same", secret: SECRET }),
  ]);
  const diff = diffPlans(base, head);
  assert.equal(diff.status, "changed");
  assert.deepEqual(
    diff.resources.map((r) => [r.name, r.op]),
    [
      ["fw", "update"],
      ["tpl", "replace"],
      ["new", "create"],
      ["old", "delete"],
    ],
  );
  assert.deepEqual(diff.resources[1].changes, [
    { path: "machineType", before: "c2d-highcpu-32", after: "c2d-highcpu-56", replaces: true },
  ]);
});

test("replacement rules: firewall direction yes, source ranges no; a command's triggers, even with an update command; not what is ignored", () => {
  assert.equal(forcesReplacement(FIREWALL, "direction"), true);
  assert.equal(forcesReplacement(FIREWALL, "sourceRanges[0]"), false);
  assert.equal(forcesReplacement(TEMPLATE, 'metadata["user-data"]'), true);
  assert.equal(forcesReplacement(COMMAND, "triggers[0]"), true);
  assert.equal(forcesReplacement(COMMAND, "create"), false, "an update: create runs again");
  assert.equal(forcesReplacement(COMMAND, "triggers[0]", ["triggers"]), false);
  assert.equal(forcesReplacement("gcp:unknown/thing:Thing", "name"), false);
});

test("diffPlans: an input the resource ignores changes nothing, as under pulumi up; the rest still does", () => {
  const command = (create: string, user: string) => ({
    ...resource("s", COMMAND, "h1-tune", { create, environment: { USER: user } }),
    ignoreChanges: ["create", "triggers"],
  });
  assert.deepEqual(
    diffPlans(plan("s", [command("s=old", "a")]), plan("s", [command("s=new", "a")])).resources,
    [],
  );
  assert.deepEqual(
    diffPlans(plan("s", [command("s=old", "a")]), plan("s", [command("s=new", "b")])).resources,
    [
      {
        op: "update",
        urn: urn("s", COMMAND, "h1-tune"),
        type: COMMAND,
        name: "h1-tune",
        changes: [{ path: "environment.USER", before: "a", after: "b", replaces: false }],
      },
    ],
  );
});

test("diffPlans: stacks added, removed, unchanged", () => {
  const p = plan("s", [resource("s", FIREWALL, "fw", { name: "fw" })], { minHosts: 1 });
  assert.equal(diffPlans(undefined, p).status, "added");
  assert.deepEqual(
    diffPlans(undefined, p).resources.map((r) => r.op),
    ["create"],
  );
  assert.equal(diffPlans(p, undefined).status, "removed");
  assert.equal(diffPlans(p, structuredClone(p)).status, "unchanged");
});

const traffic = (weights: Record<string, number>) =>
  plan("traffic-us-west", [], { mediaRegion: "us-west", weights });
const metal = (states: Record<string, string>) =>
  plan("metal-sjc", [], {
    hosts: {
      active: Object.values(states).filter((s) => s === "active").length,
      draining: Object.values(states).filter((s) => s === "draining").length,
      retired: Object.values(states).filter((s) => s === "retired").length,
    },
    hostStates: states,
  });

test("summary: traffic moving, hosts changing state, host range, cost", () => {
  const before = traffic({ "metal-sjc": 100, "gcp-us-west1": 0 });
  const after = traffic({ "metal-sjc": 90, "gcp-us-west1": 10 });
  const t = summarizeStack(diffPlans(before, after), before, after, NO_VERDICTS);
  assert.deepEqual(t.weights, [
    { key: "gcp-us-west1", before: 0, after: 10 },
    { key: "metal-sjc", before: 100, after: 90 },
  ]);
  assert.equal(t.hosts, undefined, "a traffic stack runs no hosts");

  const m0 = metal({ "sjc-m001": "active", "sjc-m002": "active", "sjc-m003": "draining" });
  const m1 = metal({ "sjc-m001": "draining", "sjc-m002": "active", "sjc-m003": "retired" });
  const m = summarizeStack(diffPlans(m0, m1), m0, m1, NO_VERDICTS);
  assert.deepEqual(m.hostStates, [
    { key: "sjc-m001", before: "active", after: "draining" },
    { key: "sjc-m003", before: "draining", after: "retired" },
  ]);
  assert.deepEqual(m.hosts, { before: { min: 2, max: 2 }, after: { min: 1, max: 1 } });
  assert.deepEqual(m.weights, [], "no weights output, no traffic row");

  const g0: Plan = {
    ...plan("gcp", [], { minHosts: 6, maxHosts: 90 }),
    cost: { computeMonthlyUsd: { min: 100, max: 1500 }, egressMonthlyUsd: 40, trafficShare: 1 },
  };
  const g1: Plan = {
    ...plan("gcp", [], { minHosts: 6, maxHosts: 100 }),
    cost: { computeMonthlyUsd: { min: 100, max: 1700 }, egressMonthlyUsd: 40, trafficShare: 1 },
  };
  const g = summarizeStack(diffPlans(g0, g1), g0, g1, NO_VERDICTS);
  assert.deepEqual(g.hosts, { before: { min: 6, max: 90 }, after: { min: 6, max: 100 } });
  assert.deepEqual(g.cost, {
    compute: { before: { min: 100, max: 1500 }, after: { min: 100, max: 1700 } },
    egress: { before: 40, after: 40 },
  });
  const text = renderText(report([{ before: g0, after: g1 }]));
  assert.match(text, /6–90 → 6–100 +compute ±\$0…\+\$200 \(min…max hosts\) · egress ±\$0/);
});

const violation = (policy: string, name: string, level: Violation["level"]): Violation => ({
  stack: "s",
  urn: urn("s", FIREWALL, name),
  policy,
  level,
  message: `${policy} on ${name}`,
  remediation: "fix it",
});

test("policy verdicts: violations introduced and resolved, matched by policy and resource", () => {
  const before = ["a", "b"].map((name) => violation("no-open-ssh", name, "mandatory"));
  // The same violation with another message is still the same one.
  const after = ["b", "c"].map((name) => ({
    ...violation("no-open-ssh", name, "mandatory"),
    message: "reworded",
  }));
  const changes = verdictChanges(before, after);
  assert.deepEqual(
    changes.introduced.map((v) => v.urn),
    [urn("s", FIREWALL, "c")],
  );
  assert.deepEqual(
    changes.resolved.map((v) => v.urn),
    [urn("s", FIREWALL, "a")],
  );
});

test("markdown: traffic moves first and highlighted, new violations counted, no change one line", () => {
  const t0 = traffic({ "metal-sjc": 100, "gcp-us-west1": 0 });
  const t1 = traffic({ "metal-sjc": 90, "gcp-us-west1": 10 });
  const f0 = plan("aaa", [resource("aaa", FIREWALL, "fw", { name: "fw" })]);
  const f1 = plan("aaa", [resource("aaa", FIREWALL, "fw", { name: "fw2" })]);
  const md = renderMarkdown(
    report([
      {
        before: f0,
        after: f1,
        check: (p) => (p === f1 ? [violation("p", "fw", "mandatory")] : []),
      },
      { before: t0, after: t1 },
    ]),
  );
  assert.match(
    md,
    /> ⚠️ \*\*Traffic moves in traffic-us-west: gcp-us-west1 0% → 10%, metal-sjc 100% → 90%\*\*/,
  );
  const rows = md.split("\n").filter((l) => l.startsWith("| **"));
  assert.match(
    rows[0],
    /^\| \*\*traffic-us-west\*\* \| 0 \| 0 \| 0 \| 0 \| {2}\| {2}\| {2}\| ⚠️ \*\*gcp-us-west1 0% → 10%, metal-sjc 100% → 90%\*\* \|/,
  );
  assert.match(rows[1], /^\| \*\*aaa\*\* \| 0 \| 0 \| 1 \| 0 \| .* \| \+1 mandatory \|$/);
  assert.match(md, /\n! {5}\[mandatory\] p: p on fw \(fw; fix: fix it\)\n/);

  const same = report([{ before: t0, after: structuredClone(t0) }]);
  assert.equal(
    renderMarkdown(same),
    "No infrastructure change: 1 stacks have identical Plans at origin/main (abc1234) and working tree.\n",
  );
  assert.equal(renderText(same), renderMarkdown(same));
});

test("markdown fits a GitHub comment: details cut, the summary never", () => {
  const stackArb = fc.record({
    name: fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/),
    resources: fc.integer({ min: 0, max: 300 }),
    valueSize: fc.integer({ min: 1, max: 3000 }),
    weights: fc.boolean(),
  });
  fc.assert(
    fc.property(
      fc.uniqueArray(stackArb, { minLength: 1, maxLength: 60, selector: (s) => s.name }),
      fc.integer({ min: 2_000, max: GITHUB_COMMENT_LIMIT }),
      (stacks, limit) => {
        const r = report(
          stacks.map((s) => {
            const resources = (v: string) =>
              Array.from({ length: s.resources }, (_, i) =>
                resource(s.name, FIREWALL, `r${i}`, { description: v.repeat(s.valueSize), n: v }),
              );
            const outputs = (w: number) => (s.weights ? { weights: { a: w, b: 100 - w } } : {});
            return {
              before: plan(s.name, resources("x"), outputs(0)),
              after: plan(s.name, resources("y"), outputs(10)),
            };
          }),
        );
        const whole = renderMarkdown(r, Infinity);
        const summary = whole.slice(0, whole.search(/<details>|$/));
        // Room for the note on what was cut, which names the stacks it leaves out.
        const room = Math.max(limit, summary.length + 400);
        const md = renderMarkdown(r, room);
        assert.ok(md.startsWith(summary), "the summary is whole");
        assert.ok(md.length <= room);
        if (md !== whole) assert.match(md, /_Details cut to fit GitHub's comment limit/);
        // Every block opened is closed: a cut never leaves a fence or <details> open.
        assert.equal(md.split("<details>").length, md.split("</details>").length);
      },
    ),
    {
      numRuns: 60,
      // CI's counterexample: the note on cut stacks named longer names than the room kept.
      examples: [
        [
          [
            { name: "a", resources: 0, valueSize: 1, weights: false },
            { name: "ba-a", resources: 0, valueSize: 1, weights: true },
            { name: "a-0-a00", resources: 1, valueSize: 1, weights: false },
            { name: "b", resources: 0, valueSize: 1, weights: true },
            { name: "a0----0", resources: 100, valueSize: 1, weights: false },
            { name: "b0a0--", resources: 38, valueSize: 1, weights: true },
            { name: "ba-a00aaa-", resources: 100, valueSize: 1, weights: true },
            { name: "a0-a", resources: 100, valueSize: 1, weights: false },
          ],
          2000,
        ],
      ],
    },
  );
});

test("markdown for a large real-sized change stays within 65,536 characters", () => {
  const many = Array.from({ length: 40 }, (_, s) => {
    const name = `stack-${s}`;
    const rs = (v: string) =>
      Array.from({ length: 200 }, (_, i) =>
        resource(name, FIREWALL, `r${i}`, { description: v.repeat(200) }),
      );
    return { before: plan(name, rs("a")), after: plan(name, rs("b")) };
  });
  const md = renderMarkdown(report(many));
  assert.ok(md.length <= GITHUB_COMMENT_LIMIT, `${md.length}`);
  assert.equal(md.split("\n").filter((l) => l.startsWith("| **stack-")).length, 40);
});
