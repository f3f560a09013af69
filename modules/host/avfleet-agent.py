#!/usr/bin/python3
# avfleet-agent: the host agent of an avfleet media host. Rendered by avfleet (modules/host);
# change the fleet spec, not this file.
#
# One process, Python 3 standard library only (every image that runs cloud-init has it, and
# Google's and Debian's cloud images ship it), supervised by systemd (Restart=always):
#   - serves the load balancer's / autohealer's health check: healthy only while the media
#     server says so, the host tuning verifies, and no drain is under way;
#   - publishes the media load gauge every interval where the pool's autoscaler reads it
#     (Cloud Monitoring on gce_instance, CloudWatch with AutoScalingGroupName, or /metrics);
#   - drains on a termination notice and tells the platform when the host may go.
# A drain is written to STATE_DIR/drain.json before anything acts on it: a restarted agent
# resumes it with its original deadline.
import datetime
import glob
import hashlib
import hmac
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.environ.get("AVFLEET_ROOT", "")


def log(message):
    print(f"avfleet-agent: {message}", file=sys.stderr, flush=True)


def under_root(path):
    return ROOT + path


def call_api(method, url, headers=None, body=None, timeout=5):
    """(status, bytes); a network failure is status 0."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (OSError, ValueError) as error:
        log(f"{method} {url}: {error}")
        return 0, b""


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


# --- the media server's contract ----------------------------------------------------------


class Workload:
    def __init__(self, config):
        self.base = f"http://127.0.0.1:{config['adminPort']}"
        self.config = config

    def healthy(self):
        return call_api("GET", self.base + self.config["healthPath"], timeout=2)[0] == 200

    def stats(self):
        """{sessions, streams, packetsPerSecond}, or None when the server does not answer."""
        status, body = call_api("GET", self.base + self.config["statsPath"], timeout=2)
        if status != 200:
            return None
        try:
            stats = json.loads(body)
            return {k: int(stats[k]) for k in ("sessions", "streams")}
        except (ValueError, KeyError, TypeError):
            return None

    def drain(self):
        return call_api("POST", self.base + self.config["drainPath"], body=b"", timeout=2)[0] in (
            200,
            202,
            204,
        )


# --- platforms ------------------------------------------------------------------------------


class Gcp:
    """Metadata server, Cloud Monitoring timeSeries.create, MIG deleteInstances."""

    def __init__(self, config, endpoints):
        self.config = config
        self.metadata = endpoints["metadata"].rstrip("/") + "/computeMetadata/v1/"
        self.monitoring = endpoints["monitoring"].rstrip("/")
        self.compute = endpoints["compute"].rstrip("/")
        self.token = None
        self.token_expires = 0
        self.identity = None

    def meta(self, path):
        status, body = call_api("GET", self.metadata + path, {"Metadata-Flavor": "Google"})
        return body.decode() if status == 200 else None

    def bearer(self):
        if time.time() >= self.token_expires - 60:
            raw = self.meta("instance/service-accounts/default/token")
            if raw is None:
                return None
            token = json.loads(raw)
            self.token = token["access_token"]
            self.token_expires = time.time() + int(token["expires_in"])
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}

    def whoami(self):
        if self.identity is None:
            values = [
                self.meta(p)
                for p in ("project/project-id", "instance/id", "instance/zone", "instance/name")
            ]
            if None in values:
                return None
            project, instance_id, zone, name = values
            self.identity = {
                "project": project,
                "instanceId": instance_id,
                "zone": zone.rsplit("/", 1)[-1],
                "name": name,
            }
        return self.identity

    def publish(self, streams):
        me, auth = self.whoami(), self.bearer()
        if me is None or auth is None:
            return False
        series = {
            "metric": {"type": self.config["metric"]["type"]},
            "resource": {
                "type": "gce_instance",
                "labels": {
                    "project_id": me["project"],
                    "instance_id": me["instanceId"],
                    "zone": me["zone"],
                },
            },
            "metricKind": "GAUGE",
            "valueType": "INT64",
            "points": [
                {
                    "interval": {"endTime": now_utc().strftime("%Y-%m-%dT%H:%M:%SZ")},
                    "value": {"int64Value": str(streams)},
                }
            ],
        }
        url = f"{self.monitoring}/v3/projects/{me['project']}/timeSeries"
        body = json.dumps({"timeSeries": [series]}).encode()
        return call_api("POST", url, auth, body)[0] == 200

    def termination_notice(self):
        # Set by the pool's scale-in (or an operator): drain, then leave the group.
        return (self.meta("instance/attributes/avfleet-drain") or "").strip() == "true"

    def heartbeat(self):
        return True

    def complete(self):
        me, auth = self.whoami(), self.bearer()
        group = self.meta("instance/attributes/created-by")
        if me is None or auth is None or not group:
            return False
        instance = f"projects/{me['project']}/zones/{me['zone']}/instances/{me['name']}"
        body = json.dumps({"instances": [instance], "skipInstancesOnValidationError": True})
        url = f"{self.compute}/compute/v1/{group.strip()}/deleteInstances"
        return call_api("POST", url, auth, body.encode())[0] == 200


def sigv4(method, url, region, service, body, creds):
    """Signature Version 4 headers for a form-encoded AWS Query API call."""
    parts = urllib.parse.urlsplit(url)
    amz_date = now_utc().strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
        "host": parts.netloc,
        "x-amz-date": amz_date,
    }
    if creds.get("Token"):
        headers["x-amz-security-token"] = creds["Token"]
    names = sorted(headers)
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            parts.query,
            "".join(f"{n}:{headers[n].strip()}\n" for n in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + creds["SecretAccessKey"]).encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={creds['AccessKeyId']}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return headers


class Aws:
    """IMDSv2, CloudWatch PutMetricData, Auto Scaling lifecycle actions (Query API, SigV4)."""

    def __init__(self, config, endpoints):
        self.config = config
        self.imds = endpoints["imds"].rstrip("/")
        self.endpoints = endpoints
        self.token = None
        self.token_expires = 0

    def meta(self, path):
        if time.time() >= self.token_expires - 60:
            status, body = call_api(
                "PUT",
                self.imds + "/latest/api/token",
                {"X-aws-ec2-metadata-token-ttl-seconds": "21600"},
                b"",
            )
            if status != 200:
                return None
            self.token, self.token_expires = body.decode(), time.time() + 21600
        status, body = call_api(
            "GET", f"{self.imds}/latest/meta-data/{path}", {"X-aws-ec2-metadata-token": self.token}
        )
        return body.decode().strip() if status == 200 else None

    def call(self, service, params):
        region = self.meta("placement/region")
        role = self.meta("iam/security-credentials/")
        creds = role and self.meta("iam/security-credentials/" + role.splitlines()[0])
        if not region or not creds:
            return False
        url = self.endpoints[service].replace("{region}", region)
        body = urllib.parse.urlencode(params).encode()
        headers = sigv4("POST", url, region, service, body, json.loads(creds))
        status, answer = call_api("POST", url, headers, body)
        if status != 200:
            log(f"{service} {params['Action']}: HTTP {status} {answer[:200]!r}")
        return status == 200

    def publish(self, streams):
        metric = self.config["metric"]
        return self.call(
            "monitoring",
            {
                "Action": "PutMetricData",
                "Version": "2010-08-01",
                "Namespace": metric["namespace"],
                "MetricData.member.1.MetricName": metric["name"],
                "MetricData.member.1.Unit": metric["unit"],
                "MetricData.member.1.Value": str(streams),
                "MetricData.member.1.Dimensions.member.1.Name": "AutoScalingGroupName",
                "MetricData.member.1.Dimensions.member.1.Value": metric["autoScalingGroup"],
            },
        )

    def termination_notice(self):
        return self.meta("autoscaling/target-lifecycle-state") == "Terminated"

    def lifecycle(self, action, extra):
        instance = self.meta("instance-id")
        if not instance:
            return False
        return self.call(
            "autoscaling",
            {
                "Action": action,
                "Version": "2011-01-01",
                "AutoScalingGroupName": self.config["metric"]["autoScalingGroup"],
                "LifecycleHookName": self.config["lifecycleHook"],
                "InstanceId": instance,
                **extra,
            },
        )

    def heartbeat(self):
        return self.lifecycle("RecordLifecycleActionHeartbeat", {})

    def complete(self):
        return self.lifecycle("CompleteLifecycleAction", {"LifecycleActionResult": "CONTINUE"})


class Metal:
    """Bare metal: Prometheus scrapes /metrics; the inventory's `draining` writes the request."""

    def __init__(self, config, endpoints):
        self.state_dir = under_root(config["stateDir"])

    def publish(self, streams):
        return True

    def termination_notice(self):
        return False

    def heartbeat(self):
        return True

    def complete(self):
        with open(os.path.join(self.state_dir, "drained"), "w") as marker:
            marker.write(f"{int(time.time())}\n")
        return True


PLATFORMS = {"gcp": Gcp, "aws": Aws, "metal": Metal}

# --- the agent ------------------------------------------------------------------------------


class Agent:
    def __init__(self, config):
        self.config = config
        endpoints = dict(config.get("endpoints", {}))
        endpoints.update(json.loads(os.environ.get("AVFLEET_AGENT_ENDPOINTS", "{}")))
        self.platform = PLATFORMS[config["platform"]](config, endpoints)
        self.workload = Workload(config["workload"])
        self.state_dir = under_root(config["stateDir"])
        os.makedirs(self.state_dir, exist_ok=True)
        self.drain_file = os.path.join(self.state_dir, "drain.json")
        self.drain = self.read_drain()
        self.tuned = False
        self.streams = None
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

    def verify_tuning(self):
        command = [under_root(self.config["tuneVerify"][0]), *self.config["tuneVerify"][1:]]
        env = {**os.environ, "AVFLEET_TUNE_ROOT": ROOT} if ROOT else None
        result = subprocess.run(command, capture_output=True, env=env)
        self.tuned = result.returncode == 0
        if not self.tuned:
            last = result.stderr.decode().strip().splitlines()[-1:] or [f"exit {result.returncode}"]
            log(f"tuning does not verify: {last[0]}")

    def health(self):
        """(HTTP status, reason)."""
        if self.drain:
            return 503, "draining"
        if not self.tuned:
            return 503, "tuning does not verify"
        if not self.workload.healthy():
            return 503, "media server unhealthy"
        return 200, "ok"

    def metrics(self):
        name = self.config["metric"].get("prometheus", "avfleet_media_streams")
        lines = [
            f"# HELP {name} Concurrent media streams this host forwards.",
            f"# TYPE {name} gauge",
        ]
        if self.streams is not None:
            lines.append(f'{name}{{pool="{self.config["pool"]}"}} {self.streams}')
        lines.append("# TYPE avfleet_agent_draining gauge")
        lines.append(f"avfleet_agent_draining {1 if self.drain else 0}")
        text = "\n".join(lines) + "\n"
        # Other exporters (e.g. the host exporter of drop counters) drop *.prom files here.
        for path in sorted(glob.glob(os.path.join(under_root(self.config["textfileDir"]), "*.prom"))):
            try:
                with open(path) as f:
                    text += f.read()
            except OSError:
                pass
        return text

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

    def tick(self):
        stats = self.workload.stats()
        if stats is not None:
            self.streams = stats["streams"]
            due = time.time() - self.published_at >= self.config["publishEverySec"]
            if due and self.platform.publish(stats["streams"]):
                self.published_at = time.time()
                with open(self.published_file, "w") as f:
                    f.write(f"{self.published_at}\n")
                log(f"published {stats['streams']} streams")
        if not self.drain:
            requested = os.path.join(self.state_dir, "drain-requested")
            if os.path.exists(requested):
                self.start_drain("requested on the host")
            elif self.platform.termination_notice():
                self.start_drain("termination notice")
        if not self.drain or self.drain["completed"]:
            return
        # Idempotent: after a restart the media server is asked again.
        self.workload.drain()
        sessions = stats["sessions"] if stats else None
        over = time.time() >= self.drain["deadline"]
        if sessions == 0 or over:
            # A shutdown drain ends with the shutdown itself; the platform is already at it.
            if self.drain["reason"] == "shutdown" or self.platform.complete():
                self.drain["completed"] = True
                self.drain["sessionsLeft"] = sessions
                self.write_drain()
                log(f"drain complete: {sessions} session(s) left{' at the limit' if over else ''}")
        elif self.platform.heartbeat():
            self.drain["heartbeats"] += 1
            self.write_drain()
            log(f"draining: {sessions} session(s) remain")

    def on_sigterm(self, *_):
        """systemd stops the agent before the media server: at a system shutdown (a GCE
        deletion within graceful shutdown), drain first; on a plain restart, just go."""
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
        verify_every = max(1, int(self.config.get("verifyEverySec", 300) // every))
        n = 0
        while True:
            if n % verify_every == 0:
                self.verify_tuning()
            n += 1
            try:
                self.tick()
            except Exception as error:  # noqa: BLE001 — the agent outlives one bad tick
                log(f"tick failed: {error!r}")
            if self.shutting_down and self.drain and self.drain["completed"]:
                sys.exit(0)
            time.sleep(every)


def serve(agent):
    health_path = agent.config["health"]["path"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == health_path:
                status, text = agent.health()
                content_type = "text/plain"
            elif self.path == "/metrics":
                status, text = 200, agent.metrics()
                content_type = "text/plain; version=0.0.4"
            else:
                status, text, content_type = 404, "not found", "text/plain"
            body = (text + "\n").encode() if not text.endswith("\n") else text.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("", agent.config["health"]["port"]), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "/etc/avfleet/agent.json"
    with open(path) as f:
        config = json.load(f)
    Agent(config).run()


if __name__ == "__main__":
    main()
