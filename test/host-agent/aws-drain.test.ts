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
  const program = `${agentImports("from avfleet_agent import agent, common")}import json, time, types
config = json.load(sys.stdin)
start = time.time()
clock = [0]
agent.time = types.SimpleNamespace(time=lambda: start + clock[0])
a = agent.Agent(config)
a.launched = True
a.session_counter.count = lambda: None
a.workload.drain = lambda: None
def tick(sessions, open_calls):
    a.workload.stats = lambda: {"streams": 2 * sessions, "sessions": sessions}
    a.session_counter.view = ({}, open_calls)
    a.tick()
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

test("a 4-hour drain: the hook waits 7200 s a heartbeat, the agent beats every 600 s and again at the next tick when one fails, then completes", async (t) => {
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
fail_at = [1200]
def recorded():
    if clock[0] in fail_at:
        fail_at.remove(clock[0])
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
    const ok = out.beats.filter(([, heard]) => heard).map(([at]) => at);
    assert.deepEqual(out.beats.slice(0, 5), [
      [0, true],
      [600, true],
      [1200, false],
      [1230, true],
      [1830, true],
    ]);
    const gaps = ok.slice(1).map((at, i) => at - ok[i]);
    assert.equal(Math.max(...gaps), 630, "the longest wait between heard heartbeats");
    assert.equal(ok.length, 24);
    assert.equal(out.drain.heartbeats, 24);
    assert.equal(out.drain.completed, true);
    assert.equal(out.drain.sessionsLeft, 0);
    const calls = s.calls.filter((c) => c.service === "autoscaling").map((c) => c.action);
    assert.equal(calls.filter((c) => c === "RecordLifecycleActionHeartbeat").length, 24);
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

test("scale-in protection: set while more than maxCutPerHost calls are expected at the limit, cleared under it, only on a change", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  assert.equal(spec.autoscaling.maxCutPerHost, 35);
  await withStandIns(t, async (aws, s, root) => {
    const out = (await inAgent(
      aws,
      root,
      `states = []
# Calls an hour old: about one in five is expected to outlast a 4-hour drain.
for calls in (300, 300, 100, 0, 400):
    tick(calls, [{"durationSeconds": 3600}] * calls)
    states.append(a.platform.protected)
    clock[0] += 30
json.dump(states, sys.stdout)`,
    )) as boolean[];
    const protections = s.calls
      .filter((c) => c.action === "SetInstanceProtection")
      .map((c) => (c.body as Record<string, string>).ProtectedFromScaleIn);
    // 300 and 400 calls an hour old: over 35 expected at the limit; 100: under.
    const perCall = replayLeft(1, 60, spec.drainSeconds / 60) / replayAlive(1, 60);
    assert.deepEqual(
      [300, 100, 0, 400].map((n) => n * perCall > 35),
      [true, false, false, true],
    );
    assert.deepEqual(out, [true, true, false, false, true]);
    assert.deepEqual(protections, ["true", "false", "true"]);
    assert.equal(aws.protectedFromScaleIn(), true);
    assert.deepEqual(s.problems, []);
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
