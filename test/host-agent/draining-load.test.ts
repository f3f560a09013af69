/**
 * The load a draining host shows its cloud's autoscaler (modules/host-agent/avfleet_agent
 * cloud.py autoscaler_load, gcp.py and aws.py publish, loaded by python3): a GCP host draining
 * holds its MIG slot and takes no joins, so its gauge is at least the autoscaler's per-host
 * target, while the scale-in controller's own reading (the guest attribute) stays its real
 * streams; a cordoned host publishes its real streams; an AWS host in Terminating:Wait publishes
 * nothing, one draining InService the target (#28).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadStackFile } from "../../modules/stacks/stack";
import type { AwsFleetSpec, FleetSpec, GcpFleetSpec } from "../../modules/config/fleet.schema";
import { agentConfig } from "../../modules/host/agent";
import { autoscalerTarget } from "../../modules/host/metrics";
import { targetStreamsPerHost } from "../../modules/fleets/aws-args";
import { agentImports } from "../support/agent";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";

const usw1 = loadStackFile(join(ROOT, "stacks/Pulumi.gcp-us-west1.yaml")).fleet as GcpFleetSpec;
const use1 = loadStackFile(join(ROOT, "stacks/Pulumi.aws-us-east-1.yaml")).fleet as AwsFleetSpec;

/** `body` run by python3 with the agent importable and `config` the spec's agent config. */
function python(spec: FleetSpec, body: string, root?: string): unknown {
  const run = spawnSync(
    "python3",
    [
      "-c",
      `${agentImports("from avfleet_agent import agent, aws, cloud, common, gcp")}import json
config = json.load(sys.stdin)
${body}`,
    ],
    {
      input: JSON.stringify(agentConfig(spec)),
      encoding: "utf8",
      env: {
        ...process.env,
        PYTHONDONTWRITEBYTECODE: "1",
        ...(root ? { AVFLEET_ROOT: root } : {}),
      },
    },
  );
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

test("the agent's config carries the autoscaler's per-host target: the MIG's utilizationTarget, target tracking's TargetValue", () => {
  // c2d-highcpu-32 and c6in.8xlarge, each at 60 % of its streams
  assert.equal(agentConfig(usw1).metric.target, 2880);
  assert.equal(agentConfig(usw1).metric.target, autoscalerTarget(usw1));
  assert.equal(agentConfig(use1).metric.target, 2880);
  assert.equal(agentConfig(use1).metric.target, targetStreamsPerHost(use1));
});

test("GCP: a draining host's gauge is at least the target, its guest attribute its real streams; serving or cordoned, both are the streams", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const target = autoscalerTarget(usw1);
  const got = python(
    usw1,
    `writes = []
def call(method, url, headers=None, body=None, timeout=5):
    writes.append([url, body.decode() if body else None])
    return 200, b"{}"
common.call_api = call
g = gcp.Gcp(config, {"metadata": "http://md", "monitoring": "http://mon", "storage": "http://gcs"})
g.whoami = lambda: {"project": "p", "instanceId": "1", "zone": "us-west1-a", "name": "vm"}
g.bearer = lambda: {"Authorization": "Bearer t"}
g.held = lambda: False  # not a standby refill's first boot
out = []
for draining, streams in [(None, 40), (cloud.TERMINATION, 40), (agent.REQUESTED, 0), ("shutdown", ${target + 100}), (None, ${target + 100})]:
    g.draining = draining
    del writes[:]
    g.publish(streams)
    gauge = [json.loads(b)["timeSeries"][0]["points"][0]["value"]["int64Value"] for u, b in writes if u.endswith("/timeSeries")]
    load = [b.split(" ")[1] for u, b in writes if u.endswith("avfleet/load")]
    out.append([gauge, load])
json.dump(out, sys.stdout)`,
  );
  const over = String(target + 100);
  assert.deepEqual(got, [
    [["40"], ["40"]],
    [[String(target)], ["40"]],
    [[String(target)], ["0"]],
    [[over], [over]],
    [[over], [over]],
  ]);
});

test("the agent's tick tells its platform it drains, from drain.json: a cordon alone does not (the controller would scale out for its own cordons)", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const root = mkdtempSync(join(tmpdir(), "agent-draining-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const got = python(
    usw1,
    `a = agent.Agent(config)
p = a.platform
shown = []
p.publish = lambda streams: shown.append(p.autoscaler_load(streams)) or True
p.cordoned = lambda: cordon[0]
p.termination_notice = lambda: False
p.heartbeat = lambda: True
a.session_counter.count = lambda: None
a.workload.stats = lambda: {"streams": 12, "sessions": 3}
a.workload.drain = lambda: None
cordon = [True]
a.tick()
a.published_at = 0
a.start_drain(agent.REQUESTED)
a.tick()
json.dump([a.cordoned, shown, p.draining], sys.stdout)`,
    root,
  );
  assert.deepEqual(got, [true, [12, autoscalerTarget(usw1)], "requested on the host"]);
});

test("AWS: a host in Terminating:Wait publishes no load (out of the group's capacity, it would pull the average down); one draining InService publishes the target", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const got = python(
    use1,
    `sent = []
h = aws.Aws(config, config["endpoints"])
state = ["InService"]
h.target_state = lambda: state[0]
h.call = lambda service, params: sent.append(params) or (200, b"")
out = []
for draining, streams, target in [(None, 40, "InService"), (cloud.TERMINATION, 40, "Terminated"), (agent.REQUESTED, 40, "InService"), (agent.REQUESTED, 40, "Terminated")]:
    h.draining, state[0] = draining, target
    del sent[:]
    out.append([h.publish(streams), [p["MetricData.member.1.Value"] for p in sent]])
json.dump(out, sys.stdout)`,
  );
  const target = targetStreamsPerHost(use1);
  assert.deepEqual(got, [
    [true, ["40"]],
    [false, []],
    [true, [String(target)]],
    // drained on request, then taken by scale-in (Terminating:Wait): out of capacity, no point
    [false, []],
  ]);
});
