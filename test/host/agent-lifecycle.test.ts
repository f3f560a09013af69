/**
 * The AWS agent's lifecycle calls (modules/host/avfleet-agent.py, loaded by python3): what
 * "No active Lifecycle Action found" means depends on the hook.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { loadStackFile } from "../../modules/config/stack";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { agentConfig } from "../../modules/host/agent";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";

const AGENT = join(ROOT, "modules/host/avfleet-agent.py");
const aws = loadStackFile(join(ROOT, "stacks/Pulumi.aws-us-east-1.yaml")).fleet as FleetSpec;

/**
 * Each case: the IMDS target lifecycle state, Auto Scaling's answer (status, body) and the
 * agent call made (`complete`, `heartbeat`, `launch`); the result is what the agent returned.
 */
function outcomes(cases: Array<[string, number, string, string]>): unknown[] {
  const program = `import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("agent", ${JSON.stringify(AGENT)})
agent = importlib.util.module_from_spec(spec); spec.loader.exec_module(agent)
config, cases = json.load(sys.stdin)
creds = json.dumps({"AccessKeyId": "ASIA", "SecretAccessKey": "x", "Token": "t"})
out = []
for state, status, body, call in cases:
    agent.call_api = lambda method, url, headers=None, body=None, timeout=5, a=(status, body.encode()): a
    aws = agent.Aws(config, config["endpoints"])
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
