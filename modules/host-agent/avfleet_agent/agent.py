# avfleet-agent: the agent's loop: the health answers, the load it publishes, the drain it runs
# and the series it serves, its platform's part done by the host's CloudInstanceManager.
# A drain is written to STATE_DIR/drain.json before anything acts on it: a restarted agent
# resumes it with its original deadline.
import glob
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time

from .cloud import TERMINATION, agent_endpoints
from .common import label_text, log, under_root
from .counters import Readings, default_route_interface, ethtool_stats, host_metrics, read_proc
from .platforms import instance_manager
from .serve import serve
from .sessions import Sessions
from .workload import Workload

# Drain reasons (drain.json) beside TERMINATION: someone on the host asked (the drain-requested
# file).
REQUESTED = "requested on the host"


def health_answer(path, config, drain, tuned, workload_status, cordoned=False):
    """(HTTP status, reason) of the health port for `path`, or None for another path.

    `workload_status` is the media server's own health answer (0: none). Readiness (`health.path`,
    the load balancer's): 200 only while no drain runs, the host is not cordoned (its platform
    keeps it out of rotation: no new joins, its calls and its load report kept), the tuning
    verifies and the media server says 200. Liveness (`health.livenessPath`, the autohealer's): 200 while the media server
    answers at all, draining or not, whatever it says of itself (a server may call itself
    unhealthy while it drains); a host failing it is broken and may be recreated, one merely
    draining must not be.
    """
    if path == config["health"].get("livenessPath"):
        if not workload_status:
            return 503, "media server does not answer"
        return 200, "alive, draining" if drain else "alive"
    if path != config["health"]["path"]:
        return None
    if drain:
        return 503, "draining"
    if cordoned:
        return 503, "cordoned"
    if not tuned:
        return 503, "tuning does not verify"
    if workload_status != 200:
        return 503, "media server unhealthy"
    return 200, "ok"


class Agent:
    def __init__(self, config):
        self.config = config
        self.platform = instance_manager(config, agent_endpoints(config))
        self.workload = Workload(config["workload"])
        self.state_dir = under_root(config["stateDir"])
        os.makedirs(self.state_dir, exist_ok=True)
        self.drain_file = os.path.join(self.state_dir, "drain.json")
        self.drain = self.read_drain()
        self.tuned = False
        self.tune_verify = None
        self.verdict = None
        self.launched = False
        self.launch_beat = 0
        self.drain_beat_due = 0
        # /run is emptied at every boot: the bootstrap's mark and this boot's start are this boot's.
        self.bootstrapped = under_root("/run/avfleet/bootstrapped")
        booted = os.path.join(under_root(config["runDir"]), "booted")
        if not os.path.exists(booted):
            os.makedirs(os.path.dirname(booted), exist_ok=True)
            with open(booted, "w") as f:
                f.write(f"{time.time()}\n")
        self.booted_at = os.path.getmtime(booted)
        if self.drain and self.drain["reason"] == "shutdown" and self.drain["startedAt"] < self.booted_at:
            # A shutdown drain ends with its boot: a host started again (out of an AWS warm pool,
            # a stopped VM) serves again instead of answering "draining" for ever.
            os.remove(self.drain_file)
            self.drain = None
        self.identity = None
        self.release = None
        self.streams = None
        self.sessions = None
        self.cordoned = False
        self.session_counter = Sessions(config, self.state_dir)
        self.readings = Readings(config["hostMetrics"]["refreshSec"], self.read_host)
        # Kept across restarts: Cloud Monitoring refuses points closer than 5 s.
        self.published_file = os.path.join(self.state_dir, "published-at")
        try:
            with open(self.published_file) as f:
                self.published_at = float(f.read())
        except (OSError, ValueError):
            self.published_at = 0
        if self.drain:
            log(f"resuming the drain started {int(time.time() - self.drain['startedAt'])} s ago")

    def read_drain(self):
        try:
            with open(self.drain_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def write_drain(self):
        tmp = self.drain_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.drain, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.drain_file)

    def verify_tuning(self, verdict=None):
        """The tuning check's verdict: root's check unit leaves it in `tuneVerdict` (the agent's
        user cannot list nftables); --print-host-metrics, run by root, passes its own."""
        if verdict is None:
            path = under_root(self.config["tuneVerdict"])
            try:
                with open(path) as f:
                    verdict = json.load(f)
                age = time.time() - os.path.getmtime(path)
            except (OSError, ValueError) as error:
                verdict, age = {"status": None, "stdout": None, "stderr": f"no verdict: {error}"}, 0
            if age > self.config["tuneVerdictMaxAgeSec"]:
                # Its timer stopped: an old "tuned" would outlive any drift.
                stale = f"the last verdict is {int(age)} s old: is avfleet-tune-check.timer running?"
                verdict = {"status": None, "stdout": None, "stderr": stale}
        self.tuned = verdict["status"] == 0
        if not self.tuned and verdict != self.verdict:
            last = verdict["stderr"].strip().splitlines()[-1:] or [f"exit {verdict['status']}"]
            log(f"tuning does not verify: {last[0]}")
        self.verdict, self.tune_verify = verdict, verdict["stdout"]

    def answer(self, path):
        """(HTTP status, reason) of a health path, or None when the path is neither check."""
        if path not in (self.config["health"]["path"], self.config["health"].get("livenessPath")):
            return None
        return health_answer(
            path, self.config, self.drain, self.tuned, self.workload.health_status(), self.cordoned
        )

    def health(self):
        """The readiness answer: (HTTP status, reason)."""
        return self.answer(self.config["health"]["path"])

    def metrics(self):
        name = self.config["metric"].get("prometheus", "avfleet_media_streams")
        lines = [
            f"# HELP {name} Concurrent media streams this host forwards.",
            f"# TYPE {name} gauge",
        ]
        if self.streams is not None:
            lines.append(f'{name}{{pool="{self.config["pool"]}"}} {self.streams}')
        lines.append("# HELP avfleet_agent_draining 1 while the agent drains this host.")
        lines.append("# TYPE avfleet_agent_draining gauge")
        lines.append(f"avfleet_agent_draining {1 if self.drain else 0}")
        # What a rollout and a migration count, per host and release (modules/gates/slo.ts).
        labels = label_text(self.host_labels())
        active, healthy = self.config["serving"]["activeSessions"], self.config["serving"]["healthyHosts"]
        lines.append(f"# HELP {active} Sessions in progress on this host's media server.")
        lines.append(f"# TYPE {active} gauge")
        if self.sessions is not None:
            lines.append(f"{active}{labels} {self.sessions}")
        lines.append(f"# HELP {healthy} 1 while this host takes sessions (its readiness).")
        lines.append(f"# TYPE {healthy} gauge")
        lines.append(f"{healthy}{labels} {1 if self.health()[0] == 200 else 0}")
        text = "\n".join(lines) + "\n" + self.host_metrics()
        text += self.session_counter.metrics(self.host_labels())
        # Other exporters (e.g. the host exporter of drop counters) drop *.prom files here.
        for path in sorted(glob.glob(os.path.join(under_root(self.config["textfileDir"]), "*.prom"))):
            try:
                with open(path) as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def locate(self):
        # In the loop, not in a scrape: a cloud's metadata server may be slow to answer.
        if self.identity is None:
            self.identity = self.platform.whereami() or None
        if self.release is None:
            self.release = self.platform.release()

    def host_labels(self):
        """host, pool, zone, region: what modules/observe's rules and diagnose sum by."""
        host, zone = self.identity or (socket.gethostname(), None)
        labels = {"host": host, "pool": self.config["hostMetrics"]["labels"]["pool"]}
        if zone:
            labels["zone"] = zone
        labels["region"] = self.config["hostMetrics"]["labels"]["region"]
        if self.release:
            labels["release"] = self.release
        return labels

    def read_host(self):
        interfaces = self.config["hostMetrics"].get("interfaces") or [default_route_interface()]
        return {
            "snmp": read_proc("/proc/net/snmp"),
            "ethtool": ethtool_stats([i for i in interfaces if i]),
            "stat": read_proc("/proc/stat"),
        }

    def host_metrics(self):
        return host_metrics(
            self.config["hostMetrics"]["families"],
            self.host_labels(),
            tune_verify=self.tune_verify,
            user_hz=os.sysconf("SC_CLK_TCK"),
            **self.readings.get(),
        )

    def start_drain(self, reason):
        self.drain = {
            "reason": reason,
            "startedAt": time.time(),
            "deadline": time.time() + self.config["drainSeconds"],
            "heartbeats": 0,
            "completed": False,
        }
        self.write_drain()
        log(f"drain started ({reason}); limit {self.config['drainSeconds']} s")

    def launch(self):
        """Tells the platform the host is ready (bootstrap done, tuning verified, media server
        healthy); until then, heartbeats within the launch limit. Past it, or when the host never
        gets ready, nothing: the hook's default result (ABANDON) replaces the host."""
        launch = self.config.get("launch")
        if self.launched or not launch:
            return
        ready = os.path.exists(self.bootstrapped) and self.health()[0] == 200
        beat = time.time() - self.launch_beat >= launch["heartbeatSec"]
        if ready or (beat and time.time() < self.booted_at + launch["limitSec"]):
            self.launch_beat = time.time()
            self.launched = self.platform.launch(ready)
            log("launch complete" if self.launched else "launching: heartbeat")

    def protect(self):
        """Keeps the platform's scale-in off this host while more than the pool's cut budget of
        its calls would still run at the drain limit. A host draining for any other reason than
        its termination takes no new call: open to scale-in at once, the first the group may
        take. One draining for its termination is past choosing."""
        protection = self.config.get("scaleInProtection")
        if not protection:
            return
        budget = protection["maxCutPerHost"]
        if self.drain:
            if self.drain["reason"] != TERMINATION:
                self.platform.protect(None, budget, draining=True)
        elif self.launched:
            self.platform.protect(self.platform.expected_left, budget)

    def tick(self):
        self.session_counter.count()
        table = self.config.get("leftAtLimit")
        if table:
            self.platform.expected_left = self.session_counter.expected_left(table)
        if not self.drain:
            self.launch()
            cordoned = self.platform.cordoned()
            if cordoned != self.cordoned:
                log("cordoned: no new joins, calls kept" if cordoned else "back in rotation")
            self.cordoned = cordoned
        self.protect()
        self.platform.draining = self.drain and self.drain["reason"]
        stats = self.workload.stats()
        if stats is not None:
            self.streams = stats["streams"]
            self.sessions = stats["sessions"]
            due = time.time() - self.published_at >= self.config["publishEverySec"]
            if due and self.platform.publish(stats["streams"]):
                self.published_at = time.time()
                with open(self.published_file, "w") as f:
                    f.write(f"{self.published_at}\n")
                log(f"published {stats['streams']} streams")
        if "cloudwatch" in self.config:
            self.platform.count(self.metrics)
        if not self.drain:
            requested = os.path.join(under_root(self.config["hostDir"]), "drain-requested")
            if os.path.exists(requested):
                self.start_drain(REQUESTED)
            elif self.platform.termination_notice():
                self.start_drain(TERMINATION)
        elif self.drain["completed"] and self.drain["reason"] == REQUESTED:
            self.end_requested_drain()
        if not self.drain or self.drain["completed"]:
            return
        # Idempotent: after a restart the media server is asked again.
        self.workload.drain()
        sessions = stats["sessions"] if stats else None
        over = time.time() >= self.drain["deadline"]
        if sessions == 0 or over:
            # A shutdown drain ends with the shutdown itself; the platform is already at it.
            if self.drain["reason"] == "shutdown" or self.platform.complete(sessions):
                self.drain["completed"] = True
                self.drain["sessionsLeft"] = sessions
                self.write_drain()
                log(f"drain complete: {sessions} session(s) left{' at the limit' if over else ''}")
        elif time.time() >= self.drain_beat_due:
            # Not yet heard: asked again at the next tick.
            if self.platform.heartbeat():
                # ±10 %: hosts terminated together would beat together, into the API's throttle.
                every = self.config.get("drainHeartbeatSec", 0) * random.uniform(0.9, 1.1)
                self.drain_beat_due = time.time() + every
                self.drain["heartbeats"] += 1
                self.write_drain()
                log(f"draining: {sessions} session(s) remain")

    def end_requested_drain(self):
        """A host whose requested drain is over, then picked by its platform's scale-in: nothing
        is left to drain, so the termination goes on at once (else the hook waits out its
        timeout and the drain ran for nothing). Once heard, not asked again."""
        if self.drain.get("terminationCompleted") or not self.platform.termination_notice():
            return
        if self.platform.complete(self.drain.get("sessionsLeft")):
            self.drain["terminationCompleted"] = True
            self.write_drain()
            log("termination notice after the requested drain: completed at once")

    def on_sigterm(self, *_):
        """systemd stops the agent before the media server: at a system shutdown (a GCE
        deletion by anything but the scale-in controller), drain for what time is left; on a plain
        restart, just go."""
        state = subprocess.run(["systemctl", "is-system-running"], capture_output=True, text=True)
        if state.stdout.strip() != "stopping":
            sys.exit(0)
        if not self.drain:
            self.start_drain("shutdown")
        self.shutting_down = True

    def run(self):
        self.shutting_down = False
        signal.signal(signal.SIGTERM, self.on_sigterm)
        serve(self)
        every = self.config["intervalSec"]
        while True:
            # A file read: the check itself runs on root's timer.
            self.verify_tuning()
            try:
                self.locate()
                self.tick()
            except Exception as error:  # noqa: BLE001 — the agent outlives one bad tick
                log(f"tick failed: {error!r}")
            if self.shutting_down and self.drain and self.drain["completed"]:
                sys.exit(0)
            time.sleep(every)
