import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { avfleet, ROOT } from "../support/cli";

const tmp = () => mkdtempSync(join(tmpdir(), "avfleet-scale-"));

/** `avfleet scale replay ARGS --json`, parsed. */
function replayJson(...args: string[]) {
  const result = avfleet(["scale", "replay", ...args, "--json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

test("scale replay: every policy on the stack's demand, as a table, JSON and a plot", () => {
  const svg = join(tmp(), "replay.svg");
  const human = avfleet(["scale", "replay", "gcp-us-west1", "--days", "8", "--svg", svg]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(
    human.stdout,
    /gcp-us-west1: 8 days \(the stack.s demand curve\), 1,200 sessions per host, drain limit 30 min, cold boot/,
  );
  for (const policy of [
    "static",
    "gcp-autoscaler",
    "aws-target-tracking",
    "reactive",
    "scheduled",
    "predictive",
    "ours",
    "cloud-native",
    "compiled",
  ]) {
    assert.match(human.stdout, new RegExp(`^${policy} `, "m"));
  }
  const picture = readFileSync(svg, "utf8");
  assert.match(picture, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal((picture.match(/font-weight="bold">/g) ?? []).length, 10, "a title and nine panels");
  assert.match(
    human.stdout,
    /^worst step ×2 in 60 s \(the stack's autoscaling\.worstStep\): the split raises this pool's floor 7 min before/m,
  );

  const { minutes, results, spike } = replayJson(
    "gcp-us-west1",
    "--days",
    "8",
    "--policy",
    "static,ours,compiled",
  );
  assert.equal(minutes, 8 * 1440);
  assert.deepEqual(
    results.map((r: { policy: string }) => r.policy),
    ["static", "ours", "compiled"],
  );
  assert.deepEqual(spike.step, { factor: 2, withinSec: 60, durationMin: 180 });
  for (const r of results) {
    for (const key of ["calls", "callsCut", "callsCutAtLimit", "gaveUp", "rejoins"])
      assert.equal(typeof r.totals[key], "number", `${r.policy}: ${key}`);
    assert.ok(r.totals.calls > 1e6, "calls started over 8 days");
  }
  // The deployed config (cloud-native in this stack, its scale-in controller cordoning and
  // holding each host to 35 calls at the limit) cuts under one call in two hundred at the drain
  // limit; ours at most one in a thousand after its first week.
  const [, ours, compiled] = results;
  assert.ok(compiled.totals.callsCutAtLimit > 0);
  assert.ok(compiled.totals.callsCutAtLimit < 0.005 * compiled.totals.calls);
  assert.ok(ours.totals.callsCutAtLimit < 0.002 * ours.totals.calls);
  assert.ok(ours.servedPct > 99.9);
  // Sized from the declared 40,000 participants, not the replayed peak: +30 %, at 1,200 per
  // host, plus one: 45 hosts, every hour of the 8 days.
  assert.equal(results[0].hostHours, 45 * 8 * 24);
  assert.equal(results[1].totals.overloadMinutes, 0);
  assert.ok(results[1].hostHours < 0.7 * results[0].hostHours);
});

test("scale replay: a Prometheus-exported CSV is the demand; a bad row names its line (exit 2)", () => {
  const dir = tmp();
  const start = Date.UTC(2026, 10, 2);
  const rows = Array.from({ length: 2 * 1440 }, (_, m) => {
    const sessions = 10000 + 8000 * Math.sin((2 * Math.PI * m) / 1440);
    return `${new Date(start + m * 60000).toISOString()},${sessions.toFixed(0)}`;
  });
  writeFileSync(join(dir, "good.csv"), ["time,sessions", ...rows].join("\n"));
  const run = (...more: string[]) =>
    avfleet([
      "scale",
      "replay",
      "aws-us-east-1",
      "--demand",
      join(dir, "good.csv"),
      "--policy",
      "ours",
      "--json",
      ...more,
    ]);
  const good = run();
  assert.equal(good.code, 0, good.stderr);
  assert.equal(JSON.parse(good.stdout).minutes, 2 * 1440);

  // --days takes the file's first days; --event puts a launch on ours' calendar: it scales
  // out ahead of it, on the same demand.
  const oneDay = run("--days", "1");
  assert.equal(JSON.parse(oneDay.stdout).minutes, 1440);
  const plain = JSON.parse(good.stdout).results[0];
  // Day 1 at 00:00 local (UTC-5) is 05:00 UTC on the file's first day: the sine's peak.
  const launch = JSON.parse(run("--event", "1:0:120:2").stdout).results[0];
  assert.ok(launch.hostHours > plain.hostHours + 10, `${launch.hostHours} vs ${plain.hostHours}`);
  const tooMany = run("--days", "3");
  assert.equal(tooMany.code, 2);
  assert.match(tooMany.stderr, /--days is 3, but .*good\.csv has 2\.0 days/);

  rows[99] = rows[99].replace(/,\d+$/, ",lots");
  writeFileSync(join(dir, "bad.csv"), ["time,sessions", ...rows].join("\n"));
  const bad = avfleet(["scale", "replay", "aws-us-east-1", "--demand", join(dir, "bad.csv")]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, "");
  assert.equal(
    bad.stderr,
    `${join(dir, "bad.csv")}: line 101, column sessions: "lots" is not a count, expected a decimal number ≥ 0\n`,
  );
});

test("scale replay: a ×2 failover the split announces a boot ahead meets serving hosts; unannounced, it overloads", () => {
  const run = (...more: string[]) =>
    replayJson("gcp-us-west1", "--days", "8", "--policy", "ours", "--failover", "6:19.5", ...more);
  const announced = run();
  assert.equal(announced.spike.failovers.length, 1);
  assert.equal(announced.spike.noticeMin, 7);
  assert.ok(announced.results[0].totals.overloadMinutes <= 1);
  const unannounced = run("--unannounced");
  assert.equal(unannounced.spike.announced, false);
  assert.ok(unannounced.results[0].totals.overloadMinutes > 1);
  assert.ok(unannounced.results[0].totals.refusedJoins > 1000);
});

test("scale replay: usage mistakes exit 2 and write nothing", () => {
  const svg = join(tmp(), "never.svg");
  for (const args of [
    ["scale", "replay", "metal-sjc", "--svg", svg],
    ["scale", "replay", "gcp-us-west1", "--policy", "magic", "--svg", svg],
    ["scale", "replay", "gcp-us-west1", "--days", "0", "--svg", svg],
    ["scale", "replay", "gcp-us-west1", "--event", "40:19:60:2", "--svg", svg],
    ["scale", "replay", "gcp-us-west1", "--worst-step", "0.5x60s", "--svg", svg],
    ["scale", "replay", "gcp-us-west1", "--failover", "9:19", "--days", "8", "--svg", svg],
    // Day 7 at 19:30 in UTC-8 is past the 8th day in UTC.
    ["scale", "replay", "gcp-us-west1", "--failover", "7:19.5", "--days", "8", "--svg", svg],
    ["scale", "replay"],
  ]) {
    const result = avfleet(args);
    assert.equal(result.code, 2, args.join(" "));
    assert.match(result.stderr, /^usage: /);
  }
  assert.equal(existsSync(svg), false);
});

/** A copy of the example stacks with aws-us-east-1's autoscaling.worstStep set to `step`. */
function stacksWithStep(step: object): string {
  const dir = join(tmp(), "stacks");
  cpSync(join(ROOT, "stacks"), dir, { recursive: true });
  const file = join(dir, "Pulumi.aws-us-east-1.yaml");
  const doc = YAML.parse(readFileSync(file, "utf8"));
  doc.config["avfleet:fleet"].autoscaling.worstStep = step;
  writeFileSync(file, YAML.stringify(doc));
  return dir;
}

test("#28: scale replay plans for the stack's worst step, --worst-step overrides it, and the residual risk is what the deployed config still refuses", () => {
  const brief = ["--days", "1", "--policy", "compiled"];
  // The examples declare none: ×2 in 60 s. Unannounced at 20:00 local on day 1, the deployed
  // config (schedules, predictive scaling, a warm pool: hosts boot in a minute) refuses joins
  // for 4 minutes over the same days without the step.
  const declared = replayJson("aws-us-east-1", ...brief).spike;
  assert.deepEqual(declared.step, { factor: 2, withinSec: 60, durationMin: 180 });
  assert.equal(declared.source, "stack");
  assert.deepEqual(
    {
      ...declared.unannounced,
      refusedJoins: Math.round(declared.unannounced.refusedJoins),
      gaveUp: Math.round(declared.unannounced.gaveUp),
    },
    {
      warmPool: true,
      at: { day: 1, hour: 20 },
      overloadMinutes: 4,
      refusedJoins: 60505,
      gaveUp: 12101,
    },
  );

  // ×3 in 30 s in the stack file: the pool meets its maxHosts (100 hosts, 120,000 sessions)
  // under 150,000, so joins are refused for the whole 100 minutes the step stays above it.
  const dir = stacksWithStep({ factor: 3, withinSeconds: 30 });
  const three = replayJson("aws-us-east-1", ...brief, "--stacks-dir", dir).spike;
  assert.deepEqual(three.step, { factor: 3, withinSec: 30, durationMin: 180 });
  assert.equal(three.source, "stack");
  assert.equal(three.unannounced.overloadMinutes, 100);
  assert.equal(Math.round(three.unannounced.refusedJoins), 858716);
  const human = avfleet(["scale", "replay", "aws-us-east-1", ...brief, "--stacks-dir", dir]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^worst step ×3 in 30 s \(the stack's autoscaling\.worstStep\)/m);
  assert.match(
    human.stdout,
    /^residual risk, unannounced at day 1 20:00 local with what the stack deploys \(stopped hosts boot in 1 min\): 100 minutes with refused joins, 858,716 refused joins, 171,743 gave up$/m,
  );

  // The flag wins over the stack's key; the deployed config is still the stack's.
  const flagged = replayJson(
    "aws-us-east-1",
    ...brief,
    "--stacks-dir",
    dir,
    "--worst-step",
    "2x60s",
  ).spike;
  assert.deepEqual(flagged.step, { factor: 2, withinSec: 60, durationMin: 180 });
  assert.equal(flagged.source, "--worst-step");
  assert.equal(flagged.unannounced.overloadMinutes, 4);

  // A cloud-native pool boots cold: the same step costs it more than the warm pool.
  const native = replayJson("aws-eu-central-1", ...brief).spike.unannounced;
  assert.equal(native.warmPool, false);
  assert.equal(native.overloadMinutes, 5);
  assert.equal(Math.round(native.refusedJoins), 23629);
});

test("#28: a stack whose worst step is out of bounds is refused with its file and key path, exit 2", () => {
  const dir = stacksWithStep({ factor: 1, withinSeconds: 60 });
  const result = avfleet(["scale", "replay", "aws-us-east-1", "--stacks-dir", dir]);
  assert.equal(result.code, 2);
  assert.match(
    result.stderr,
    /Pulumi\.aws-us-east-1\.yaml: config\.avfleet:fleet\.autoscaling\.worstStep\.factor: is 1, expected the demand multiplier of the worst step, above 1 and at most 10/,
  );
  assert.equal(result.stdout, "");
});

test("scale replay --frontier: the points printed and in --json, GCP's up to its two-day drain, AWS's short of it (#28)", () => {
  const dir = tmp();
  const human = avfleet([
    "scale",
    "replay",
    "gcp-us-west1",
    "--days",
    "2",
    "--policy",
    "ours",
    "--frontier",
    join(dir, "gcp.svg"),
  ]);
  assert.equal(human.code, 0, human.stderr);
  assert.ok(existsSync(join(dir, "gcp.svg")));
  assert.match(human.stdout, /^≤ 35 \* +30 min /m, "the stack's point, marked");
  for (const limit of ["120", "240", "480", "1,440", "2,880"])
    assert.match(human.stdout, new RegExp(`^any +${limit} min `, "m"));
  const limits = (stack: string) =>
    replayJson(stack, "--days", "2", "--policy", "ours", "--frontier", join(dir, `${stack}.svg`))
      .frontier.filter((p: { maxCutPerHost: number | null }) => p.maxCutPerHost === null)
      .map((p: { drainLimitMin: number }) => p.drainLimitMin);
  assert.deepEqual(limits("gcp-us-west1"), [30, 120, 240, 480, 1440, 2880]);
  assert.deepEqual(limits("aws-us-east-1"), [30, 120, 240, 480, 1440]);
});
