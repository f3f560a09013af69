#!/usr/bin/python3
# What a rendered avfleet agent answers, read by running its own code (not a reading of it):
# the HTTP status of each health path in each host state, and what its lifecycle calls do
# when the platform answers as documented. Used by modules/lifecycle/agent.ts.
#
# python3 agent-answers.py AGENT_FILE CONFIG_FILE  ->  JSON on stdout
import importlib.machinery
import inspect
import importlib.util
import json
import sys
import types

# The installed agent has no .py suffix: name its loader.
loader = importlib.machinery.SourceFileLoader("avfleet_agent", sys.argv[1])
spec = importlib.util.spec_from_loader("avfleet_agent", loader)
agent = importlib.util.module_from_spec(spec)
spec.loader.exec_module(agent)
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
    if hasattr(agent, "health_answer"):
        said = agent.health_answer(path, config, state["drain"], state["tuned"], state["workload"])
        return said[0] if said else 404
    # An agent without health_answer serves one health path, Agent.health's answer.
    if path != config["health"]["path"]:
        return 404
    host = types.SimpleNamespace(
        drain=state["drain"],
        tuned=state["tuned"],
        workload=types.SimpleNamespace(healthy=lambda: state["workload"] == 200),
    )
    return agent.Agent.health(host)[0]


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


agent.call_api = fake_api


def complete(platform):
    """The platform's complete(), with zero sessions left where it takes them."""
    takes = inspect.signature(platform.complete).parameters
    return platform.complete(*([0] if takes else []))


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
    platform = agent.Aws(config, agent.agent_endpoints(config))
    platform.meta = lambda path: meta.get(path)
    # True: the agent takes the platform's "No active Lifecycle Action" for the call done.
    lifecycle = {
        "drainCompleteDoneOnNoActive": bool(complete(platform)),
        "launchDoneOnNoActive": bool(platform.launch(True)),
    }
elif config["platform"] == "gcp":
    platform = agent.Gcp(config, agent.agent_endpoints(config))
    platform.meta = lambda path: {
        "project/project-id": "p",
        "instance/id": "1",
        "instance/zone": "projects/1/zones/z-a",
        "instance/name": "vm",
        "instance/attributes/created-by": "projects/1/regions/r/instanceGroupManagers/mig",
        "instance/service-accounts/default/token": json.dumps({"access_token": "t", "expires_in": 3600}),
    }.get(path)
    complete(platform)
    lifecycle = {"completeCalls": calls[:]}

json.dump({"health": health, "lifecycle": lifecycle}, sys.stdout)
