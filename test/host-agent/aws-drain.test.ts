/**
 * An AWS host's long drain and its scale-in protection (modules/host-agent/avfleet_agent), the
 * agent's own loop run by python3 against the host rehearsal's AWS stand-ins (IMDSv2, SigV4,
 * Auto Scaling's Query API, the instance role's grant), on a clock the test moves.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { awsStandIns, StandIns } from "../../bench/host/stand-ins";
import { loadStackFile } from "../../modules/stacks/stack";
import type { AwsFleetSpec } from "../../modules/config/fleet.schema";
import { drainHook, groupName, hostPolicy } from "../../modules/fleets/aws-args";
import { agentConfig } from "../../modules/host/agent";
import { AWS_DRAIN_HOOK, AWS_LAUNCH_HOOK, awsMediaMetric } from "../../modules/host/metrics";
import { MEDIA_SESSIONS, survivalPerMinute } from "../../modules/world/demand";
import { agentImports } from "../support/agent";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";

const base = loadStackFile(join(ROOT, "stacks/Pulumi.aws-us-east-1.yaml")).fleet as AwsFleetSpec;
/** Four hours: twice the longest heartbeatTimeout AWS takes. */
const spec: AwsFleetSpec = { ...base, drainSeconds: 14_400 };
const INSTANCE = "i-0abc1234def567890";

type AwsStandIns = Awaited<ReturnType<typeof awsStandIns>>;

/**
 * Runs `body` in python3 with `a`, the agent of `spec` talking to the stand-ins, on a clock at
 * `clock[0]` seconds from the start, and `tick(sessions, open)`: one pass of its loop while the
 * media server holds `sessions` calls, `open` their records in progress. Returns what `body`
 * prints as JSON. Asynchronous: the stand-ins answer in this process meanwhile.
 */
function inAgent(standIns: AwsStandIns, root: string, body: string): Promise<unknown> {
  const program = `${agentImports("from avfleet_agent import agent, aws, common")}import json, os, random, time, types
config = json.load(sys.stdin)
start = time.time()
clock = [0]
agent.time = aws.time = types.SimpleNamespace(time=lambda: start + clock[0])
random.seed(28)
PER_CALL = ${PER_CALL}
a = agent.Agent(config)
a.launched = True
a.session_counter.count = lambda: None
a.workload.drain = lambda: None
def tick(sessions, open_calls):
    a.workload.stats = lambda: {"streams": 2 * sessions, "sessions": sessions}
    a.session_counter.view = ({}, open_calls)
    a.tick()
sent = []
call = a.platform.call
def recorded_call(service, params):
    status, answer = call(service, params)
    if params["Action"] == "SetInstanceProtection":
        sent.append([clock[0], params["ProtectedFromScaleIn"]])
    return status, answer
a.platform.call = recorded_call
def hold(left, until, every=30):
    """Ticks every 30 s until the clock reads until, while about left calls (each an hour old)
    are expected at the drain limit; None: the media server gives no reading."""
    while clock[0] < until:
        if left is None:
            a.workload.stats = lambda: None
            a.session_counter.view = None
            a.tick()
        else:
            n = round(left / PER_CALL)
            tick(n, [{"durationSeconds": 3600}] * n)
        clock[0] += every
${body}`;
  const child = spawn("python3", ["-c", program], {
    env: {
      ...process.env,
      PYTHONDONTWRITEBYTECODE: "1",
      AVFLEET_ROOT: root,
      AVFLEET_AGENT_ENDPOINTS: JSON.stringify(standIns.endpoints),
    },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  child.stdin.end(JSON.stringify(agentConfig(spec)));
  return new Promise((resolve, reject) =>
    child.on("close", (code) =>
      code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(stderr)),
    ),
  );
}

async function withStandIns(
  t: { after: (fn: () => void) => void },
  run: (aws: AwsStandIns, s: StandIns, root: string) => Promise<void>,
) {
  const root = mkdtempSync(join(tmpdir(), "aws-drain-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const s = new StandIns("127.0.0.1");
  try {
    const aws = await awsStandIns(s, {
      region: "us-east-1",
      zone: "us-east-1b",
      instanceId: INSTANCE,
      role: "aws-use1-role",
      group: groupName(spec),
      hook: AWS_DRAIN_HOOK,
      launchHook: AWS_LAUNCH_HOOK,
      metric: awsMediaMetric(spec.pool),
      policy: hostPolicy(spec, "arn:aws:autoscaling:us-east-1:123456789012:*"),
    });
    await run(aws, s, root);
  } finally {
    await s.close();
  }
}

test("a 4-hour drain: the hook waits 7200 s a heartbeat, the agent beats every 600 s ± 10 % and again at the next tick when one fails, then completes", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const config = agentConfig(spec);
  assert.equal(drainHook(spec).heartbeatTimeout, 7200);
  assert.equal(config.drainHeartbeatSec, 600);
  assert.equal(config.intervalSec, 30);
  await withStandIns(t, async (aws, s, root) => {
    // Scale-in: IMDS reads Terminated and the hook waits at once (no deregistration delay here).
    aws.terminate(0);
    await new Promise((r) => setTimeout(r, 20));
    const out = (await inAgent(
      aws,
      root,
      `beats = []
beat = a.platform.heartbeat
def recorded():
    # The third attempt is not heard (the network).
    if len(beats) == 2:
        real, common.call_api = common.call_api, lambda *args, **kw: (0, b"")
        try:
            ok = beat()
        finally:
            common.call_api = real
    else:
        ok = beat()
    beats.append([clock[0], ok])
    return ok
a.platform.heartbeat = recorded
# Calls go on for 13,990 s, then the last one ends.
while clock[0] < 14_000:
    tick(3, [{"durationSeconds": 60}] * 3)
    clock[0] += 30
tick(0, [])
json.dump({"beats": beats, "drain": a.drain}, sys.stdout)`,
    )) as { beats: [number, boolean][]; drain: Record<string, unknown> };
    assert.deepEqual(
      out.beats.slice(0, 4).map(([, heard]) => heard),
      [true, true, false, true],
    );
    assert.equal(out.beats[3][0] - out.beats[2][0], 30, "a beat not heard: again at the next tick");
    const ok = out.beats.filter(([, heard]) => heard).map(([at]) => at);
    const gaps = ok.slice(1).map((at, i) => at - ok[i]);
    // 540–660 s, the next 30-second tick at or after; the one around the failed beat, a tick more.
    const [failedGap, ...others] = [gaps[1], ...gaps.slice(0, 1), ...gaps.slice(2)];
    assert.ok(failedGap >= 570 && failedGap <= 720, `around the failed beat: ${failedGap}`);
    for (const gap of others) assert.ok(gap >= 540 && gap <= 690, `between beats: ${gap}`);
    // Jittered: hosts terminated together do not beat together.
    assert.ok(new Set(others).size >= 3, `gaps ${JSON.stringify(others)}`);
    assert.ok(ok.length >= 20 && ok.length <= 26, `${ok.length} beats heard`);
    assert.equal(out.drain.heartbeats, ok.length);
    assert.equal(out.drain.completed, true);
    assert.equal(out.drain.sessionsLeft, 0);
    const calls = s.calls.filter((c) => c.service === "autoscaling").map((c) => c.action);
    assert.equal(calls.filter((c) => c === "RecordLifecycleActionHeartbeat").length, ok.length);
    assert.deepEqual(
      calls.filter((c) => c.startsWith("Complete")),
      ["CompleteLifecycleAction"],
    );
    assert.deepEqual(aws.waiting(), [], "no lifecycle action left waiting");
    assert.deepEqual(s.problems, []);
  });
});

/** Calls expected at the limit as the replay counts them: `joined` calls `ageMin` ago, per phase. */
function replayLeft(joined: number, ageMin: number, limitMin: number): number {
  const survive = survivalPerMinute(MEDIA_SESSIONS);
  return MEDIA_SESSIONS.phases.reduce(
    (n, p, k) => n + joined * p.share * survive[k] ** ageMin * survive[k] ** limitMin,
    0,
  );
}

function replayAlive(joined: number, ageMin: number): number {
  const survive = survivalPerMinute(MEDIA_SESSIONS);
  return MEDIA_SESSIONS.phases.reduce((n, p, k) => n + joined * p.share * survive[k] ** ageMin, 0);
}

/** Calls expected at the drain limit per call an hour old (`hold` in the agent's program). */
const PER_CALL = replayLeft(1, 60, spec.drainSeconds / 60) / replayAlive(1, 60);

test("the agent's calls at the limit are the replay's: a cohort's survivors of any age", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const limitMin = spec.drainSeconds / 60;
  const ages = [0, 5, 60, 600, 3000];
  await withStandIns(t, async (aws, _s, root) => {
    const got = (await inAgent(
      aws,
      root,
      `from avfleet_agent.sessions import expected_left
json.dump([expected_left(config["leftAtLimit"], [age * 60]) for age in ${JSON.stringify(ages)}], sys.stdout)`,
    )) as number[];
    ages.forEach((age, i) => {
      // One survivor of a cohort `age` minutes old: the replay's per-phase count over its survivors.
      const want = replayLeft(1000, age, limitMin) / replayAlive(1000, age);
      assert.ok(
        Math.abs(got[i] - want) < 1e-9 * Math.max(1, want),
        `${age} min: ${got[i]} vs ${want}`,
      );
    });
    // A new call outlasts a 4-hour drain about 3 times in 100: 0.08 x e^-1 of the 4-hour
    // phase, 0.32 x e^-240/35 of the 35-minute one.
    assert.equal(Math.round(got[0] * 1000), 30);
    // A call 50 hours old is in the 4-hour phase for sure: e^-1.
    assert.equal(Math.round(got[4] * 1000), 368);
  });
});

test("scale-in protection: set over maxCutPerHost, cleared only under 85 % of it, 5 min between changes, the value held sent again every 10 min ± 10 %", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  assert.equal(spec.autoscaling.maxCutPerHost, 35);
  // 300 calls an hour old: over 35 expected at the limit; 100: under.
  assert.deepEqual(
    [300, 100].map((n) => n * PER_CALL > 35),
    [true, false],
  );
  await withStandIns(t, async (aws, s, root) => {
    const out = (await inAgent(
      aws,
      root,
      `hold(40, 60)
hold(32, 150)  # in the band (29.75-35): stays protected
hold(20, 330)  # under the band: cleared, 5 min after it was set
hold(40, 630)  # over again: set, 5 min after it was cleared
# Hovering at the budget for 20 min: no change.
while clock[0] < 1830:
    hold(36 if clock[0] % 60 else 33, clock[0] + 30)
# The group's setting changes behind the agent (a warm pool exit takes the group's).
call("autoscaling", {"Action": "SetInstanceProtection", "Version": "2011-01-01",
    "AutoScalingGroupName": config["metric"]["autoScalingGroup"],
    "InstanceIds.member.1": a.platform.meta("instance-id"), "ProtectedFromScaleIn": "false"})
drift = clock[0]
hold(40, 3600)
json.dump({"sent": sent, "drift": drift}, sys.stdout)`,
    )) as { sent: [number, string][]; drift: number };
    assert.deepEqual(out.sent.slice(0, 3), [
      [0, "true"],
      [300, "false"],
      [600, "true"],
    ]);
    const rest = out.sent.slice(3);
    assert.ok(
      rest.every(([, value]) => value === "true"),
      `no flip at the budget: ${JSON.stringify(rest)}`,
    );
    const at = out.sent.slice(2).map(([time]) => time);
    const gaps = at.slice(1).map((time, i) => time - at[i]);
    for (const gap of gaps) assert.ok(gap >= 540 && gap <= 690, `sent again after ${gap} s`);
    assert.ok(new Set(gaps).size >= 2, `jittered: ${JSON.stringify(gaps)}`);
    assert.ok(at.some((time) => time > out.drift && time - out.drift <= 690));
    assert.equal(aws.protectedFromScaleIn(), true, "the drift was corrected");
    assert.deepEqual(s.problems, []);
  });
});

test("scale-in protection is cleared after 5 min without a reading of the calls in progress", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  await withStandIns(t, async (aws, s, root) => {
    const out = (await inAgent(
      aws,
      root,
      `hold(40, 30)
hold(None, 900)
json.dump(sent, sys.stdout)`,
    )) as [number, string][];
    // The last reading at 0 s: open to scale-in at the first tick 300 s later, and held so.
    assert.deepEqual(out.slice(0, 2), [
      [0, "true"],
      [300, "false"],
    ]);
    assert.ok(
      out.slice(2).every(([, value]) => value === "false"),
      JSON.stringify(out),
    );
    assert.equal(aws.protectedFromScaleIn(), false);
    assert.deepEqual(s.problems, []);
  });
});

test("a drain requested on a protected host clears its protection at once; picked for scale-in after it ended, the hook completes at once", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  await withStandIns(t, async (aws, s, root) => {
    const first = (await inAgent(
      aws,
      root,
      `hold(40, 60)
requested = os.path.join(agent.under_root(config["hostDir"]), "drain-requested")
os.makedirs(os.path.dirname(requested), exist_ok=True)
open(requested, "w").close()
hold(40, 120)
tick(0, [])
json.dump({"sent": sent, "drain": a.drain, "ready": a.health()[0]}, sys.stdout)`,
    )) as { sent: [number, string][]; drain: Record<string, unknown>; ready: number };
    // Requested at 60 s (the tick's protection came before it): cleared at the next tick,
    // within 5 min of being set.
    assert.deepEqual(first.sent, [
      [0, "true"],
      [90, "false"],
    ]);
    assert.equal(aws.protectedFromScaleIn(), false);
    assert.equal(first.drain.completed, true);
    assert.equal(first.ready, 503);
    // The group picks the idle host; the agent (restarted meanwhile) finds its drain over.
    aws.terminate(0);
    await new Promise((r) => setTimeout(r, 20));
    const second = (await inAgent(
      aws,
      root,
      `tick(0, [])
clock[0] += 30
tick(0, [])
json.dump({"sent": sent, "drain": a.drain}, sys.stdout)`,
    )) as { sent: [number, string][]; drain: Record<string, unknown> };
    assert.deepEqual(aws.waiting(), [], "the drain hook completed");
    assert.equal(second.drain.terminationCompleted, true);
    assert.deepEqual(second.sent, [], "no protection asked of a terminating host");
    const completes = s.calls.filter((c) => c.action === "CompleteLifecycleAction");
    assert.equal(completes.length, 1, "completed once");
    assert.deepEqual(s.problems, []);
  });
});

test("no SetInstanceProtection once IMDS reads Terminated, even on a change due", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  await withStandIns(t, async (aws, s, root) => {
    await inAgent(aws, root, `hold(40, 30)\njson.dump(sent, sys.stdout)`);
    aws.terminate(0);
    await new Promise((r) => setTimeout(r, 20));
    // A restarted agent knows no protection: under the band, it would clear it.
    const sent = await inAgent(aws, root, `hold(10, 60)\njson.dump(sent, sys.stdout)`);
    assert.deepEqual(sent, []);
    assert.equal(aws.protectedFromScaleIn(), true);
    assert.deepEqual(s.problems, []);
  });
});

test("an IMDSv2 token IMDS no longer holds is dropped: a new one, the read asked once more", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  await withStandIns(t, async (aws, s, root) => {
    const got = await inAgent(
      aws,
      root,
      `a.platform.meta("instance-id")
a.platform.token = "expired"
json.dump(a.platform.meta("instance-id"), sys.stdout)`,
    );
    assert.equal(got, INSTANCE);
    assert.deepEqual(s.problems, ["imds: /latest/meta-data/instance-id without an IMDSv2 token"]);
  });
});

test("scale-in protection is not asked of a warm pool host (SetInstanceProtection refuses one)", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  await withStandIns(t, async (aws, s, root) => {
    aws.launch("Warmed:Stopped");
    await inAgent(aws, root, `tick(0, [])\njson.dump(a.platform.protected, sys.stdout)`);
    assert.deepEqual(
      s.calls.filter((c) => c.action.startsWith("SetInstanceProtection")),
      [],
    );
  });
});
