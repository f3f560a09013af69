#!/usr/bin/python3
# What a rendered avfleet agent answers, read by running its own code (not a reading of it):
# the HTTP status of each health path in each host state, and what its lifecycle calls do
# when the platform answers as documented. Used by modules/lifecycle/agent.ts.
#
# python3 agent-answers.py PACKAGE_PARENT CONFIG_FILE  ->  JSON on stdout
# PACKAGE_PARENT holds the rendered avfleet_agent package, which holds only the host's own
# platform's adapter: the probe imports that one.
import json
import sys

sys.path.insert(0, sys.argv[1])
from avfleet_agent import common  # noqa: E402
from avfleet_agent.agent import health_answer  # noqa: E402
from avfleet_agent.cloud import agent_endpoints  # noqa: E402
from avfleet_agent.platforms import instance_manager  # noqa: E402

with open(sys.argv[2]) as f:
    config = json.load(f)

# workload: the media server's own health answer (0: none).
STATES = {
    "serving": dict(drain=None, tuned=True, workload=200),
    "draining": dict(drain={"reason": "termination notice"}, tuned=True, workload=200),
    "workload-down": dict(drain=None, tuned=True, workload=0),
    "untuned": dict(drain=None, tuned=False, workload=200),
}


def answer(path, state):
    said = health_answer(path, config, state["drain"], state["tuned"], state["workload"])
    return said[0] if said else 404


paths = {config["health"]["path"]}
if config["health"].get("livenessPath"):
    paths.add(config["health"]["livenessPath"])
health = {path: {name: answer(path, s) for name, s in STATES.items()} for path in sorted(paths)}

calls = []
NO_ACTIVE = b"<ErrorResponse><Error><Code>ValidationError</Code><Message>No active Lifecycle Action found with instance ID i-0</Message></Error></ErrorResponse>"


def fake_api(method, url, headers=None, body=None, timeout=5):
    """Auto Scaling before the hook is active: every lifecycle call is refused as AWS documents."""
    calls.append([method, url])
    if body and b"LifecycleAction" in body:
        return 400, NO_ACTIVE
    return 200, b"{}"


common.call_api = fake_api

# The host's own adapter, as the agent's selector picks it.
platform = instance_manager(config, agent_endpoints(config))

lifecycle = {}
if config["platform"] == "aws":
    meta = {
        "placement/region": "us-east-1",
        "iam/security-credentials/": "role",
        "iam/security-credentials/role": json.dumps(
            {"AccessKeyId": "A", "SecretAccessKey": "S", "Token": "T"}
        ),
        "instance-id": "i-0",
        "autoscaling/target-lifecycle-state": "Terminated",
    }
    platform.meta = lambda path: meta.get(path)
    # True: the agent takes the platform's "No active Lifecycle Action" for the call done.
    lifecycle = {
        "drainCompleteDoneOnNoActive": bool(platform.complete(0)),
        "launchDoneOnNoActive": bool(platform.launch(True)),
    }
elif config["platform"] == "gcp":
    platform.meta = lambda path: {
        "project/project-id": "p",
        "instance/id": "1",
        "instance/zone": "projects/1/zones/z-a",
        "instance/name": "vm",
        "instance/attributes/created-by": "projects/1/regions/r/instanceGroupManagers/mig",
        "instance/service-accounts/default/token": json.dumps({"access_token": "t", "expires_in": 3600}),
    }.get(path)
    platform.complete(0)
    lifecycle = {"completeCalls": calls[:]}

json.dump({"health": health, "lifecycle": lifecycle}, sys.stdout)
