/**
 * The lifecycle matrix over this project's fleets as rendered: each finding of a reading against
 * the providers' documents is a scenario that cut calls or churned hosts on the earlier
 * rendering, and holds at zero now.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { lifecycleEstate } from "../../bench/lifecycle";
import { agentAnswers } from "../../modules/lifecycle/agent";
import {
  replacedGroups,
  runMatrix,
  runScenario,
  SCENARIOS,
  type Kind,
  type PoolRenderings,
  type ScenarioResult,
} from "../../modules/lifecycle/scenarios";
import { World } from "../../modules/lifecycle/world";
import { ALL_RULES } from "../../modules/providers/rules";
import { ROOT } from "../support/cli";

let estate: PoolRenderings[];
let results: ScenarioResult[];
before(async () => {
  estate = await lifecycleEstate();
  results = runMatrix(estate);
});

function cell(scenario: string, kind: Kind) {
  const rows = results.filter((r) => r.scenario === scenario && r.kind === kind);
  assert.ok(rows.length > 0, `${scenario} ran on ${kind}`);
  const sum = (k: "callsCut" | "churnedHosts" | "secondsPastLimit" | "failedUps") =>
    rows.reduce((n, r) => n + r[k], 0);
  return {
    cut: sum("callsCut"),
    churned: sum("churnedHosts"),
    past: sum("secondsPastLimit"),
    failedUps: sum("failedUps"),
    story: rows.flatMap((r) => [`${r.pool}:`, ...r.story]).join("\n"),
  };
}

function holds(scenario: string, kind: Kind) {
  const c = cell(scenario, kind);
  assert.deepEqual(
    { cut: c.cut, churned: c.churned, past: c.past, failedUps: c.failedUps },
    { cut: 0, churned: 0, past: 0, failedUps: 0 },
    `${scenario} on ${kind}:\n${c.story}`,
  );
}

test("GCP: autohealing never repairs a host that drains, restarts its agent or loses readiness", () => {
  holds("autohealing-during-drain", "gcp");
  holds("agent-crash", "gcp");
  holds("readiness-lost", "gcp");
});

test("GCP: scale-in drains first on every pool (no MIG deletion at the 90 s stop limit)", () => {
  holds("scale-in", "gcp");
  holds("long-call-scale-in", "gcp");
});

test("GCP: a new template, a label or a recovered zone replaces no serving host", () => {
  holds("template-rollout", "gcp");
  holds("label-change", "gcp");
  holds("zone-rebalance", "gcp");
  holds("hook-change", "gcp");
});

test("GCP: a container pool's slow first boot is not recreated by autohealing", () => {
  holds("slow-first-boot", "gcp");
});

test("GCP: the agent never deletes its own VM; its finished drain is a guest attribute the controller reads", () => {
  for (const { base } of estate.filter((p) => p.base.kind === "gcp")) {
    const calls = agentAnswers(base).lifecycle.completeCalls ?? [];
    assert.ok(calls.length > 0, base.pool);
    assert.ok(
      calls.every(([, url]) => url.includes("/guest-attributes/")),
      `${base.pool}: ${JSON.stringify(calls)}`,
    );
  }
  holds("operator-drain", "gcp");
});

test("a release's rollout drains its batch and the provider replaces it; the scale-in controller leaves it to the rollout", () => {
  for (const kind of ["gcp", "aws"] as const) {
    holds("release-rollout", kind);
    for (const r of results.filter((x) => x.scenario === "release-rollout" && x.kind === kind)) {
      assert.deepEqual(
        r.departures,
        r.departures.map((d) => ({
          drain: d.drain,
          why: kind === "gcp" ? "recreated by the rollout" : "drain hook completed",
          fault: false,
        })),
        r.story.join("\n"),
      );
      assert.equal(r.departures.length, 2, r.pool);
      assert.ok(
        r.departures.every((d) => d.drain),
        "each drained first",
      );
    }
  }
});

test("a 2-hour call on a host rebooted with a 2-hour drain outlives systemd's 30-minute shutdown limit", () => {
  for (const kind of ["gcp", "aws", "metal"] as const) holds("long-call-reboot", kind);
});

test("AWS: a changed launching hook replaces no group (initialLifecycleHooks is ForceNew upstream)", () => {
  holds("hook-change", "aws");
  // The test of the test: without ignoreChanges the same change replaces the group.
  const pools = estate.find((p) => p.base.kind === "aws")!;
  const w = new World(pools.base, agentAnswers(pools.base));
  const unignored = pools.container!.resources.map((r) => ({ ...r, ignoreChanges: [] }));
  assert.equal(replacedGroups(w, pools.base.resources, unignored).length, 1);
  assert.deepEqual(replacedGroups(w, pools.base.resources, pools.container!.resources), []);
});

test("AWS: a drain counts as complete only once its hook is active (after deregistration)", () => {
  holds("operator-drain", "aws");
  for (const { base } of estate.filter((p) => p.base.kind === "aws")) {
    assert.equal(agentAnswers(base).lifecycle.drainCompleteDoneOnNoActive, false, base.pool);
    assert.equal(agentAnswers(base).lifecycle.launchDoneOnNoActive, true, base.pool);
  }
});

test("AWS: the NLB keeps the connections of a target that turns unhealthy", () => {
  holds("readiness-lost", "aws");
});

test("AWS: a recovered zone or a label change replaces no host", () => {
  holds("zone-rebalance", "aws");
  holds("label-change", "aws");
  holds("template-rollout", "aws");
});

test("AWS: scale-in asks the pool's termination policy, which takes a host expecting no call at the drain limit where the oldest expects some (#28)", () => {
  holds("scale-in", "aws");
  for (const r of results.filter((x) => x.scenario === "scale-in" && x.kind === "aws")) {
    assert.ok(r.rules.includes("aws.asg.custom-termination-policy"), r.rules.join(", "));
    // the oldest, -00, holds calls past the 30-minute limit; -01 holds none
    assert.match(r.story[0], /scale-in \(0 call\(s\) expected at the drain limit\): \S+-01 /);
  }
});

test("AWS: a 4-hour drain outlasts the hook's 7200 s heartbeatTimeout on the agent's heartbeats; a hung agent's hook lets go 7200 s after its last one (#28)", () => {
  holds("four-hour-drain", "aws");
  const rows = (id: string) => results.filter((r) => r.scenario === id);
  assert.equal(rows("four-hour-drain").length, 2, "both AWS pools");
  for (const r of rows("four-hour-drain")) {
    const story = r.story.join("\n");
    assert.deepEqual(r.departures, [
      { drain: "target lifecycle state Terminated", why: "drain hook completed", fault: false },
    ]);
    // Scale-in at +0:01:00, the 4-hour call ends at +4:00:00, the agent completes at its tick.
    assert.ok(story.includes("goes at +4:00:10 (drain hook completed)"), story);
    assert.ok(r.rules.includes("aws.asg.hook-heartbeat"), r.rules.join(", "));
  }
  for (const r of rows("four-hour-drain-agent-hangs")) {
    const story = r.story.join("\n");
    // The hook began to wait at +0:01:30 (after the 30 s deregistration); heard beats every
    // 600 s from then, the last at +0:41:30 before the agent hung at +0:51:00: 7200 s later
    // the hook's CONTINUE lets the instance go with its 4-hour call.
    assert.deepEqual(r.departures, [
      {
        drain: "target lifecycle state Terminated",
        why: "drain hook timed out (CONTINUE) 7200 s after its last heartbeat, the agent dead",
        fault: true,
      },
    ]);
    assert.ok(story.includes("goes at +2:41:40"), story);
    assert.equal(r.callsLostToFault, 1);
    assert.equal(r.callsCut, 0);
  }
});

test("GCP and bare metal: a 4-hour drain runs to its call's end; maintenance, a template, run limits, a rollout and a reboot within it cut nothing (#28)", () => {
  for (const id of [
    "four-hour-drain-maintenance",
    "four-hour-drain-template",
    "four-hour-drain-reclaim",
    "four-hour-drain-rollout",
  ])
    holds(id, "gcp");
  for (const kind of ["gcp", "metal"] as const) {
    holds("four-hour-drain-marked", kind);
    holds("four-hour-call-reboot", kind);
  }
  for (const r of results.filter((x) => x.scenario === "four-hour-drain-marked")) {
    const story = r.story.join("\n");
    // Marked at +0:01:00; the 4-hour call ends at +4:00:00, the agent says so at its tick.
    if (r.kind === "gcp") {
      assert.deepEqual(r.departures, [
        {
          drain: "avfleet-drain=true set by an operator",
          why: "the controller deleted its drained VM",
          fault: false,
        },
      ]);
      assert.match(
        story,
        /goes at \+4:0[1-2]:\d\d \(the controller deleted its drained VM\)/,
        story,
      );
      assert.ok(r.rules.includes("gcp.mig.autohealing"), "probed all along, liveness kept");
    } else assert.deepEqual(r.departures, [], "a drained metal host stays up until retired");
    assert.equal(r.callsCutAtLimit, 0);
  }
});

test("GCP: the 4-hour scenarios catch a rendering that would end the drain (the test of the test)", () => {
  const pools = estate.find((p) => p.base.kind === "gcp")!;
  const four = pools.fourHourDrain!;
  const scenario = (id: string) => SCENARIOS.find((s) => s.id === id)!;
  const edited = (edit: (r: { type: string; inputs: Record<string, any> }) => void) => ({
    ...pools,
    fourHourDrain: {
      ...four,
      resources: four.resources.map((r) => {
        const copy = structuredClone(r);
        edit(copy);
        return copy;
      }),
    },
  });
  const template = (change: (inputs: Record<string, any>) => void) =>
    edited((r) => {
      if (r.type === "gcp:compute/instanceTemplate:InstanceTemplate") change(r.inputs);
    });
  const cut = (id: string, p: PoolRenderings) => runScenario(scenario(id), p).callsCut;
  assert.equal(cut("four-hour-drain-maintenance", pools), 0);
  assert.equal(
    cut(
      "four-hour-drain-maintenance",
      template((t) => (t.scheduling.onHostMaintenance = "TERMINATE")),
    ),
    1,
  );
  assert.equal(
    cut(
      "four-hour-drain-reclaim",
      template((t) => (t.scheduling.provisioningModel = "SPOT")),
    ),
    1,
  );
  assert.equal(
    cut(
      "four-hour-drain-template",
      edited((r) => {
        if (r.inputs.updatePolicy)
          r.inputs.updatePolicy = { ...r.inputs.updatePolicy, type: "PROACTIVE" };
      }),
    ),
    1,
    "a proactive restart two hours in ends the 4-hour call (the other hosts' calls are over)",
  );
  // A controller that kept the old two-hour setting deletes the host 2 h 5 min after its mark
  // (+0:01:00), and the VM stops 90 s later with the 4-hour call.
  const twoHours = runScenario(
    scenario("four-hour-drain-marked"),
    edited((r) => {
      const env = r.inputs.serviceConfig?.environmentVariables;
      if (env?.AVFLEET_SCALE_IN)
        env.AVFLEET_SCALE_IN = JSON.stringify({
          ...JSON.parse(env.AVFLEET_SCALE_IN),
          drainSeconds: 7200,
        });
    }),
  );
  assert.equal(twoHours.callsCut, 1, twoHours.story.join("\n"));
  assert.match(
    twoHours.story.join("\n"),
    /goes at \+2:07:30 \(the controller deleted its VM, marked 7500 s ago\)/,
  );
});

test("the whole matrix: no call cut before its limit, no host churned, none kept past its limit", () => {
  const kinds = new Set(results.map((r) => r.kind));
  const cells = new Set(results.map((r) => `${r.scenario}/${r.kind}`));
  assert.deepEqual([...kinds].sort(), ["aws", "gcp", "metal"]);
  assert.ok(cells.size >= 20, `${cells.size} scenarios`);
  for (const c of cells) {
    const [scenario, kind] = c.split("/");
    holds(scenario, kind as Kind);
  }
});

test("every provider rule a scenario relied on is a row of docs/real-path.md with its source", () => {
  const doc = readFileSync(join(ROOT, "docs/real-path.md"), "utf8");
  const used = new Set(results.flatMap((r) => r.rules));
  assert.ok(used.size >= 12, `${used.size} rules cited`);
  for (const rule of ALL_RULES) {
    const row = doc.split("\n").find((line) => line.includes(`\`${rule.id}\``));
    assert.ok(row, `docs/real-path.md has no row for ${rule.id}`);
    assert.ok(row.includes(rule.source.split(/[;,] /)[0]), `${rule.id}: its source in the row`);
  }
  for (const id of used)
    assert.ok(
      ALL_RULES.some((r) => r.id === id),
      id,
    );
});
