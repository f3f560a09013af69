/**
 * The AWS agent's lifecycle calls (modules/host-agent/avfleet_agent/aws.py, loaded by python3): what
 * "No active Lifecycle Action found" means depends on the hook.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadStackFile } from "../../modules/stacks/stack";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { agentConfig } from "../../modules/host/agent";
import { STATE_DIR } from "../../modules/host/units";
import { agentImports } from "../support/agent";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";

const aws = loadStackFile(join(ROOT, "stacks/Pulumi.aws-us-east-1.yaml")).fleet as FleetSpec;

/**
 * Each case: the IMDS target lifecycle state, Auto Scaling's answer (status, body) and the
 * agent call made (`complete`, `heartbeat`, `launch`); the result is what the agent returned.
 */
function outcomes(cases: Array<[string, number, string, string]>): unknown[] {
  const program = `${agentImports("from avfleet_agent import aws as adapter, common")}import json
config, cases = json.load(sys.stdin)
creds = json.dumps({"AccessKeyId": "ASIA", "SecretAccessKey": "x", "Token": "t"})
out = []
for state, status, body, call in cases:
    common.call_api = lambda method, url, headers=None, body=None, timeout=5, a=(status, body.encode()): a
    aws = adapter.Aws(config, config["endpoints"])
    meta = {"placement/region": "us-east-1", "iam/security-credentials/": "role",
            "iam/security-credentials/role": creds, "instance-id": "i-0abc",
            "autoscaling/target-lifecycle-state": state}
    aws.meta = meta.get
    out.append({"launch": lambda: aws.launch(True), "heartbeat": aws.heartbeat, "complete": lambda: aws.complete(0)}[call]())
json.dump(out, sys.stdout)`;
  const run = spawnSync("python3", ["-c", program], {
    input: JSON.stringify([agentConfig(aws), cases]),
    encoding: "utf8",
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

const NO_ACTIVE =
  "<ErrorResponse><Error><Code>ValidationError</Code><Message>No active Lifecycle Action found with instance ID i-0abc</Message></Error></ErrorResponse>";

test('"No active Lifecycle Action" is done for the launching hook, not for the drain hook of a terminating instance', (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  assert.deepEqual(
    outcomes([
      // The drain hook becomes active only after deregistration; IMDS reads Terminated before.
      ["Terminated", 400, NO_ACTIVE, "complete"],
      ["Terminated", 400, NO_ACTIVE, "heartbeat"],
      ["Terminated", 200, "<CompleteLifecycleActionResponse/>", "complete"],
      ["Terminated", 200, "<RecordLifecycleActionHeartbeatResponse/>", "heartbeat"],
      // A drain asked on the host: nothing waits on the hook.
      ["InService", 400, NO_ACTIVE, "complete"],
      // The launching hook: completed before a restart, or never started.
      ["InService", 400, NO_ACTIVE, "launch"],
      ["InService", 200, "<CompleteLifecycleActionResponse/>", "launch"],
      ["Terminated", 500, "internal", "complete"],
    ]),
    [false, false, true, true, true, true, true, false],
  );
});

/** Runs `body` (python, with `agent` loaded and `config` the spec's agent config) and returns its JSON. */
function inAgent(spec: FleetSpec, body: string, root: string): unknown {
  const program = `${agentImports("from avfleet_agent import agent, aws, gcp")}import json
config = json.load(sys.stdin)
${body}`;
  const run = spawnSync("python3", ["-c", program], {
    input: JSON.stringify(agentConfig(spec)),
    encoding: "utf8",
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", AVFLEET_ROOT: root },
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

test("each platform's release label is what a rollout reads the host by: the MIG's template name, v<launch template version>, the class payload's sha prefix", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const root = mkdtempSync(join(tmpdir(), "agent-release-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const gcp = loadStackFile(join(ROOT, "stacks/Pulumi.gcp-us-west1.yaml")).fleet as FleetSpec;
  const metal = loadStackFile(join(ROOT, "stacks/Pulumi.metal-sjc.yaml")).fleet as FleetSpec;
  // Each cloud platform's answer from its metadata service, as the agent reads it there.
  const cases: [FleetSpec, string, string, string, string][] = [
    [
      gcp,
      "gcp.Gcp",
      "instance/attributes/instance-template",
      "projects/123/global/instanceTemplates/gcp-usw1-20261204",
      "gcp-usw1-20261204",
    ],
    [aws, "aws.Aws", "tags/instance/aws:ec2launchtemplate:version", "7", "v7"],
  ];
  for (const [spec, platform, path, answer, release] of cases) {
    const read = inAgent(
      spec,
      `p = ${platform}(config, config["endpoints"])
p.meta = {${JSON.stringify(path)}: ${JSON.stringify(answer)}}.get
json.dump(p.release(), sys.stdout)`,
      root,
    );
    assert.equal(read, release, platform);
  }
  mkdirSync(join(root, STATE_DIR), { recursive: true });
  writeFileSync(join(root, STATE_DIR, "release"), "0123456789ab\n");
  const served = inAgent(
    metal,
    `a = agent.Agent(config)
a.identity = ("sjc-m001", None)
a.locate()
a.sessions = 12
a.health = lambda: (200, "ok")
text = a.metrics()
a.health = lambda: (503, "draining")
json.dump([text, a.metrics()], sys.stdout)`,
    root,
  ) as string[];
  const labels = `{host="sjc-m001",pool="${metal.pool}",region="${metal.mediaRegion}",release="0123456789ab"}`;
  assert.ok(served[0].includes(`\navfleet_active_sessions${labels} 12\n`), served[0]);
  assert.ok(served[0].includes(`\navfleet_healthy_hosts${labels} 1\n`), served[0]);
  assert.ok(served[1].includes(`\navfleet_healthy_hosts${labels} 0\n`), served[1]);
});
