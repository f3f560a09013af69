/**
 * The calls a GCP host expects to still hold at its drain limit (modules/host-agent sessions.py
 * expected_left, loaded by python3): the same numbers as the replay's survival
 * (modules/world/demand.ts expectedLeft) on the table the fleet renders into the agent's config;
 * what the agent publishes beside its load; and its readiness while cordoned.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadStackFile } from "../../modules/stacks/stack";
import type { GcpFleetSpec } from "../../modules/config/fleet.schema";
import { agentConfig } from "../../modules/host/agent";
import {
  expectedLeft,
  MEDIA_SESSIONS,
  survivalPerMinute,
  survivalTable,
} from "../../modules/world/demand";
import { agentImports } from "../support/agent";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";

const usw1 = loadStackFile(join(ROOT, "stacks/Pulumi.gcp-us-west1.yaml")).fleet as GcpFleetSpec;
const PY_ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: "1" };

function python(program: string, input: unknown): unknown {
  const run = spawnSync("python3", ["-c", program], {
    input: JSON.stringify(input),
    encoding: "utf8",
    env: PY_ENV,
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

/** `body` run by python3 after `imports`, with the us-west1 hosts' agent config as `config`. */
function withConfig(imports: string, body: string): unknown {
  return python(
    `${agentImports(imports)}import json\nconfig = json.load(sys.stdin)\n${body}`,
    agentConfig(usw1),
  );
}

test("the agent's config carries the session mix's survival at the pool's drain limit, as the replay computes it", () => {
  const config = agentConfig(usw1);
  assert.deepEqual(config.leftAtLimit, survivalTable(MEDIA_SESSIONS, 30));
  assert.equal(usw1.drainSeconds, 1800);
  assert.deepEqual(
    config.leftAtLimit!.phases.map((p) => p.survivalPerMinute),
    survivalPerMinute(MEDIA_SESSIONS),
  );
  // policy ours keeps a standby pool: a refill's first boot waits for its admission
  assert.deepEqual(config.drainMarks, {
    prefix: "drain/",
    cordonPrefix: "cordon/",
    admitPrefix: "admit/",
  });
  // the MIG stops a refill 420 s after its creation (boot budget 300 s + 120): 120 s more
  assert.deepEqual(config.standbyHold, { failOpenSec: 540 });
});

test("expected calls at the limit: the host's Python gives the replay's numbers for the same calls", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const table = survivalTable(MEDIA_SESSIONS, 30);
  // Ages in seconds: just joined, a few minutes, a meeting's length, hours, days.
  const hosts = [[], [0], [240], [0, 60, 600, 2100, 7200, 14_400, 200_000], [30, 45, 90]];
  const got = python(
    `${agentImports("from avfleet_agent.sessions import expected_left")}import json
table, hosts = json.load(sys.stdin)
json.dump([expected_left(table, ages) for ages in hosts], sys.stdout)`,
    [table, hosts],
  ) as number[];
  const want = hosts.map((ages) =>
    expectedLeft(
      table,
      ages.map((s) => s / 60),
    ),
  );
  for (const [i, w] of want.entries()) assert.ok(Math.abs(got[i] - w) < 1e-9, `${got[i]} vs ${w}`);
  // What a user relies on, by hand: a call just joined is still there 30 minutes on with
  // 0.6·e^(−30/4) + 0.32·e^(−30/35) + 0.08·e^(−30/240) = 0.2068; one of two hours is likely a
  // long one: odds 0.32·e^(−120/35) to 0.08·e^(−120/240), so 0.80 (e^(−30/240) = 0.8825 at most).
  assert.ok(Math.abs(want[1] - 0.2068) < 1e-4, String(want[1]));
  const [meeting, long] = [0.32 * Math.exp(-120 / 35), 0.08 * Math.exp(-120 / 240)];
  const byHand = (meeting * Math.exp(-30 / 35) + long * Math.exp(-30 / 240)) / (meeting + long);
  const twoHours = expectedLeft(table, [120]);
  assert.ok(
    Math.abs(twoHours - byHand) < 1e-4 && Math.abs(twoHours - 0.8) < 0.01,
    String(twoHours),
  );
  // A call of days does not underflow every phase: it counts as a long one.
  assert.ok(Math.abs(expectedLeft(table, [200_000 / 60]) - Math.exp(-30 / 240)) < 1e-9);
  assert.equal(want[0], 0);
});

test("an age that is no number counts as a call that stays; the agent publishes its expectation beside its load, the old format without one", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const got = withConfig(
    "from avfleet_agent import gcp, common\nfrom avfleet_agent.sessions import expected_left",
    `odd = expected_left(config["leftAtLimit"], [None, "12", -5, float("nan")])
writes = []
common.call_api = lambda method, url, headers=None, body=None, timeout=5: (writes.append([url.rsplit("/", 2)[-2:], body.decode() if body else None]) or (200, b"{}"))
g = gcp.Gcp(config, {"metadata": "http://md", "monitoring": "http://mon", "storage": "http://gcs"})
g.whoami = lambda: {"project": "p", "instanceId": "1", "zone": "us-west1-a", "name": "vm"}
g.bearer = lambda: {"Authorization": "Bearer t"}
g.held = lambda: False  # not a standby refill's first boot (the next test holds one)
g.publish(120)
g.expected_left = 3.14159
g.publish(160)
json.dump([odd, [w for w in writes if w[0] == ["avfleet", "load"]]], sys.stdout)`,
  ) as [number, [string[], string][]];
  assert.equal(got[0], 4);
  assert.deepEqual(
    got[1].map(([, value]) => value.split(" ").slice(1)),
    [["120"], ["160", "3.14"]],
  );
});

test("a cordoned host fails readiness (no new joins) and stays alive; a drain still says draining", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const got = withConfig(
    "from avfleet_agent.agent import health_answer",
    `ready, live = config["health"]["path"], config["health"]["livenessPath"]
json.dump([
    health_answer(ready, config, None, True, 200, True),
    health_answer(live, config, None, True, 200, True),
    health_answer(ready, config, {"reason": "termination notice"}, True, 200, True),
    health_answer(ready, config, None, True, 200, False),
], sys.stdout)`,
  );
  assert.deepEqual(got, [
    [503, "cordoned"],
    [200, "alive"],
    [503, "draining"],
    [200, "ok"],
  ]);
});

test("a cordon stands on a failed read (only a 404 lifts it), up to 300 s after the last good one; then the host fails open and says so", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const got = withConfig(
    "from avfleet_agent import gcp, common",
    `reads = iter([(200, 1000), (503, 1060), (0, 1100), (404, 1120), (503, 1130), (200, 1200), (429, 1400), (503, 1501), (200, 1560)])
now, status = [0], [0]
gcp.time.time = lambda: now[0]
common.call_api = lambda method, url, headers=None, body=None, timeout=5: (status[0], b"")
logs = []
gcp.log = logs.append
config.pop("standbyHold")
g = gcp.Gcp(config, {"metadata": "http://md", "monitoring": "http://mon", "storage": "http://gcs"})
g.whoami = lambda: {"project": "p", "instanceId": "1", "zone": "us-west1-a", "name": "vm"}
g.bearer = lambda: {"Authorization": "Bearer t"}
out = []
for code, at in reads:
    status[0], now[0] = code, at
    out.append(g.cordoned())
json.dump([out, [m for m in logs if "fail open" in m]], sys.stdout)`,
  );
  assert.deepEqual(got, [
    [true, true, true, false, false, true, true, false, true],
    ["cordon unread for over 300 s: back in rotation (fail open)"],
  ]);
});

test("a standby pool's host: on its first boot out of rotation until its own admission (name and instance id) exists, then in for the boot; past failOpenSec without one it fails open and says so; a later boot serves at once", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const root = mkdtempSync(join(tmpdir(), "avfleet-hold-"));
  try {
    const got = withConfig(
      "from avfleet_agent import gcp, common\nimport os",
      `common.ROOT = ${JSON.stringify(root)}
for d in (config["stateDir"], config["runDir"]):
    os.makedirs(common.ROOT + d, exist_ok=True)
gcp.BOOT_ID = common.ROOT + "/boot_id"
def boot(boot_id, at):
    with open(gcp.BOOT_ID, "w") as f:
        f.write(boot_id + "\\n")
    with open(common.ROOT + config["runDir"] + "/booted", "w") as f:
        f.write(f"{at}\\n")
    os.utime(common.ROOT + config["runDir"] + "/booted", (at, at))
now, admit, asked = [0], [404], []
gcp.time.time = lambda: now[0]
def call_api(method, url, headers=None, body=None, timeout=5):
    asked.append(url.rsplit("/o/", 1)[-1])
    return (admit[0] if "admit%2F" in url else 404), b""
common.call_api = call_api
logs = []
gcp.log = logs.append
def host():
    g = gcp.Gcp(config, {"metadata": "http://md", "monitoring": "http://mon", "storage": "http://gcs"})
    g.whoami = lambda: {"project": "p", "instanceId": "4242", "zone": "us-west1-a", "name": "vm-ab12"}
    g.bearer = lambda: {"Authorization": "Bearer t"}
    return g
out = {}
# first boot at 1000: held while no admission; admitted at 1100; a later 404 does not take it out
boot("boot-1", 1000)
g = host()
steps = []
for at, code in ((1010, 404), (1060, 404), (1100, 200), (1130, 404)):
    now[0], admit[0] = at, code
    steps.append(g.cordoned())
out["admitted"] = steps
out["asked"] = sorted(set(asked))
# a held first boot publishes no gauge point (its 0 is no demand); admitted, it does
g2 = host()
gauge = lambda: [a for a in asked if a.endswith("/timeSeries")]
now[0], admit[0] = 1020, 404
asked.clear(); g2.publish(0); out["heldGauge"] = gauge()
admit[0] = 200
asked.clear(); g2.publish(7); out["admittedGauge"] = gauge()
logs.pop()
# the same first boot, an agent restarted, never admitted: held until 1000 + failOpenSec
g = host()
steps = []
for at in (1100, 1000 + config["standbyHold"]["failOpenSec"] - 1, 1000 + config["standbyHold"]["failOpenSec"]):
    now[0], admit[0] = at, 404
    steps.append(g.cordoned())
out["failOpen"] = steps
out["logs"] = logs
# the VM started again from the pool: a new boot id, no hold, no admission asked for
boot("boot-2", 5000)
asked.clear()
now[0] = 5010
out["laterBoot"] = [host().cordoned(), asked]
json.dump(out, sys.stdout)`,
    ) as Record<string, unknown>;
    assert.deepEqual(got.admitted, [true, true, false, false]);
    assert.deepEqual(got.asked, ["admit%2Fvm-ab12.4242", "cordon%2Fvm-ab12"]);
    assert.deepEqual(got.heldGauge, []);
    assert.deepEqual(got.admittedGauge, ["http://mon/v3/projects/p/timeSeries"]);
    assert.deepEqual(got.failOpen, [true, true, false]);
    assert.deepEqual(got.logs, [
      "admitted by the scale-in controller: in rotation",
      "no admission 540 s into the first boot, when a standby refill would have been stopped: in rotation (fail open); does the scale-in controller run?",
    ]);
    assert.deepEqual(got.laterBoot, [false, ["cordon%2Fvm-ab12"]]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
