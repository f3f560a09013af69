# avfleet-agent [--print-host-metrics | --pull | --verify-tuning] [CONFIG]: the agent's command
# line, run by its systemd units through the launcher /usr/local/sbin/avfleet-agent.
import json
import os
import subprocess
import sys

from .agent import Agent
from .common import ROOT, log, under_root


def pull(config):
    """--pull: 0 once the workload's image is on the host (the media unit's last ExecStartPre,
    so a failed pull fails the start). An image already there is not pulled again: a restart
    needs no registry. Credentials: see modules/host/image.ts (RegistryAuth)."""
    image = config["workload"]["image"]
    ref = image["ref"]
    if subprocess.run(["podman", "image", "exists", ref]).returncode == 0:
        return 0
    auth = []
    if image["auth"] != "none":
        if image["auth"] == "google":
            # Imported here: only a host pulling with a Google token carries gcp.py.
            from .gcp import google_registry_auth

            doc = google_registry_auth(config, image["registry"])
            if doc is None:
                log(f"pull {ref}: no token from the metadata server")
                return 1
        else:
            doc = {"credHelpers": {image["registry"]: "ecr-login"}}
        path = under_root("/run/avfleet/registry-auth.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump(doc, f)
        auth = ["--authfile", path]
    status = subprocess.run(["podman", "pull", "--quiet", *auth, ref]).returncode
    if status:
        log(f"pull {ref}: podman exited {status}")
    return status


def check_tuning(config):
    """`avfleet-tune verify` as it ran: {status (None: no script), stdout, stderr}."""
    command = [under_root(config["tuneVerify"][0]), *config["tuneVerify"][1:]]
    env = {**os.environ, "AVFLEET_TUNE_ROOT": ROOT} if ROOT else None
    try:
        result = subprocess.run(command, capture_output=True, env=env)
    except OSError as error:
        # No tuning script: not tuned, and no drift to report rather than a stale one.
        return {"status": None, "stdout": None, "stderr": str(error)}
    return {
        "status": result.returncode,
        "stdout": result.stdout.decode(),
        "stderr": result.stderr.decode(),
    }


def write_verdict(config):
    """--verify-tuning (root's check unit): the verdict where the agent reads it, replaced whole."""
    path = under_root(config["tuneVerdict"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(check_tuning(config), f)
    os.chmod(path + ".tmp", 0o644)
    os.replace(path + ".tmp", path)


def main():
    """avfleet-agent [--print-host-metrics | --pull | --verify-tuning] [CONFIG]: run, print the
    host counters once, put the workload's image on the host, or check the tuning for the agent."""
    args = sys.argv[1:]
    modes = (["--print-host-metrics"], ["--pull"], ["--verify-tuning"])
    mode = args[0] if args[:1] in modes else None
    path = (args[1:] if mode else args)[:1] or ["/etc/avfleet/agent.json"]
    with open(path[0]) as f:
        config = json.load(f)
    if mode == "--pull":
        sys.exit(pull(config))
    if mode == "--verify-tuning":
        sys.exit(write_verdict(config))
    once = mode == "--print-host-metrics"
    agent = Agent(config)
    if not once:
        agent.run()
    agent.locate()
    agent.verify_tuning(check_tuning(config))
    sys.stdout.write(agent.host_metrics())

