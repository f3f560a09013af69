#!/usr/bin/python3
# avfleet-agent: the host agent of an avfleet media host. Rendered by avfleet (modules/host);
# change the fleet spec, not this file.
#
# One process, Python 3 standard library only (every image that runs cloud-init has it, and
# Google's and Debian's cloud images ship it), supervised by systemd (Restart=always):
#   - serves two health checks (health_answer): readiness for the load balancer, healthy only
#     while the media server says so, the host tuning verifies and no drain is under way; and
#     liveness for the MIG's autohealer, healthy while the media server answers, draining or
#     not (a draining host is not broken: recreating it would cut its calls);
#   - publishes the media load gauge every interval where the pool's autoscaler reads it
#     (Cloud Monitoring on gce_instance, CloudWatch with AutoScalingGroupName, or /metrics);
#   - drains on a termination notice and tells the platform when the host may go (GCP: a guest
#     attribute the pool's scale-in controller reads before it deletes the VM);
#   - serves the host's UDP drop, NIC allowance, tuning drift and CPU counters on /metrics;
#   - with --pull, puts a container workload's image on the host before the server starts.
# A drain is written to STATE_DIR/drain.json before anything acts on it: a restarted agent
# resumes it with its original deadline.
import base64
import datetime
import glob
import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import re
import signal
import socket
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

    def health_status(self):
        """The HTTP status of the server's own health endpoint; 0 when it does not answer."""
        return call_api("GET", self.base + self.config["healthPath"], timeout=2)[0]

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


# --- host counters: the parse and lines of modules/host/exporter.ts, held equal by its test --

CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def parse_snmp_udp(text):
    lines = [line for line in text.split("\n") if line.startswith("Udp:")]
    if len(lines) < 2:
        return {}
    return dict(zip(lines[0].split()[1:], map(number, lines[1].split()[1:])))


def parse_allowance(text):
    """ethtool -S counters named *_allowance_exceeded: the cloud's limits, not other drivers'."""
    pattern = re.compile(r"^\s*([a-z0-9_]+_allowance_exceeded):\s*(\d+)\s*$", re.M)
    return {m.group(1): int(m.group(2)) for m in pattern.finditer(text)}


def parse_tune_drift(text):
    """Settings whose last column reads drift; an empty ACTUAL leaves three columns."""
    rows = (re.split(r"\s{2,}", line.strip()) for line in text.split("\n"))
    return [cols[0] for cols in rows if len(cols) >= 3 and cols[-1] == "drift"]


def parse_cpu(text, user_hz=100):
    line = next((l for l in text.split("\n") if re.match(r"cpu\s", l)), None)
    if line is None:
        return {}
    ticks = [number(t) for t in line.split()[1:]]
    return {
        mode: (ticks[i] if i < len(ticks) and ticks[i] is not None else 0) / user_hz
        for i, mode in enumerate(CPU_MODES)
    }


def sample_value(value):
    # As JavaScript prints it: 15, not 15.0.
    return str(int(value)) if float(value).is_integer() else repr(value)


def label_text(labels):
    def escape(value):
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    body = ",".join(f'{k}="{escape(v)}"' for k, v in labels.items())
    return "{" + body + "}" if body else ""


def host_metrics(
    families, labels, snmp=None, ethtool=None, tune_verify=None, stat=None, user_hz=100
):
    """Exposition text of the readings given; `families` is the config's hostMetrics.families."""
    out = []

    def one(key, value):
        if value is not None and value == value and abs(value) != float("inf"):
            out.append((key, [({}, value)]))

    if snmp is not None:
        udp = parse_snmp_udp(snmp)
        for key, field in (
            ("inDatagrams", "InDatagrams"),
            ("rcvbufErrors", "RcvbufErrors"),
            ("sndbufErrors", "SndbufErrors"),
            ("inErrors", "InErrors"),
        ):
            one(key, udp.get(field))
    if ethtool is not None:
        samples = [
            ({"interface": iface, "counter": counter}, value)
            for iface, text in ethtool.items()
            for counter, value in parse_allowance(text).items()
        ]
        out.append(("allowance", samples))
    if tune_verify is not None:
        drift = parse_tune_drift(tune_verify)
        one("tuningDrift", len(drift))
        out.append(("tuningSetting", [({"setting": setting}, 1) for setting in drift]))
    if stat is not None:
        cpu = parse_cpu(stat, user_hz)
        out.append(("cpu", [({"mode": mode}, seconds) for mode, seconds in cpu.items()]))
    lines = []
    for key, samples in out:
        family = families[key]
        name = family["name"]
        lines += [f"# HELP {name} {family['help']}", f"# TYPE {name} {family['type']}"]
        for extra, value in samples:
            lines.append(f"{name}{label_text({**labels, **extra})} {sample_value(value)}")
    return "\n".join(lines) + "\n" if lines else ""


def read_proc(path):
    # The kernel's, never under AVFLEET_ROOT: a rehearsal's host is a network namespace.
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def default_route_interface():
    for row in (read_proc("/proc/net/route") or "").splitlines()[1:]:
        cols = row.split()
        if len(cols) > 7 and cols[1] == "00000000" and cols[7] == "00000000":
            return cols[0]
    return None


def ethtool_stats(interfaces):
    """`ethtool -S` per interface; one without stats (or no ethtool) is left out."""
    out = {}
    for iface in interfaces:
        try:
            result = subprocess.run(
                ["ethtool", "-S", iface], capture_output=True, text=True, timeout=5
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if result.returncode == 0:
            out[iface] = result.stdout
    return out


class Readings:
    """The kernel's and the NIC's counters, read at most once per `every` seconds whatever the
    number of scrapes: a scrape forks no process of its own, so a flood of requests on the
    port cannot become a flood of ethtool runs (one at a time, the others wait for its result)."""

    def __init__(self, every, read):
        self.every = every
        self.read = read
        self.lock = threading.Lock()
        self.at = None
        self.value = None

    def get(self):
        with self.lock:
            if self.at is None or time.monotonic() - self.at >= self.every:
                self.value = self.read()
                self.at = time.monotonic()
            return self.value


# --- per-session quality --------------------------------------------------------------------
# The media server's session records (the workload contract, docs/reference/hosts.md), counted
# and rendered as modules/host/sessions.ts does, held equal by its test.


def observe(h, buckets, value):
    # h: cumulative counts per bound, +Inf, then the sum. A figure that is no number is not
    # counted; the value itself stands in as the +Inf bound.
    if type(value) in (int, float) and 0 <= value < float("inf"):
        for i, le in enumerate(buckets + [value]):
            h[i] += value <= le
        h[-1] += value


def fresh_session_counts(families):
    join = families["join"]
    histograms = [(q[k]["name"], q["buckets"]) for q in families["quality"] for k in ("summary", "minute")]
    series = {name: [0] * (len(b) + 2) for name, b in [*histograms, (join["name"], join["buckets"])]}
    return {"series": {**series, families["ice"]["name"]: [0, 0]}}


def count_records(families, before, answer):
    """The counts after one answer of the sessions endpoint; `before` is left as it was."""
    after = json.loads(json.dumps(before))
    series, join, ice = after["series"], families["join"], families["ice"]["name"]
    for r in answer["records"]:
        kind = r.get("kind")
        if kind == "join":
            observe(series[join["name"]], join["buckets"], int(r.get("joined") is True))
            if r.get("ice") in ("connected", "failed"):
                series[ice][r["ice"] == "failed"] += 1
        for q in families["quality"] if kind in ("end", "minute") else []:
            name = q["summary" if kind == "end" else "minute"]["name"]
            observe(series[name], q["buckets"], r.get(q["field"]))
    after["cursor"] = answer["cursor"]
    return after


def session_metrics(families, labels, counts, open_sessions):
    out = []

    def family(name, help_text, kind, lines):
        out.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *lines])

    def parts(name, buckets, h):
        bounds = [*map(sample_value, buckets), "+Inf"]
        return {
            "_bucket": [f"{name}_bucket{label_text({**labels, 'le': le})} {n}" for le, n in zip(bounds, h)],
            "_sum": [f"{name}_sum{label_text(labels)} {sample_value(h[-1])}"],
            "_count": [f"{name}_count{label_text(labels)} {h[-2]}"],
        }

    def histogram(f, buckets):
        family(f["name"], f["help"], "histogram", sum(parts(f["name"], buckets, counts["series"][f["name"]]).values(), []))

    for q in families["quality"]:
        histogram(q["summary"], q["buckets"])
        now = [0] * (len(q["buckets"]) + 2)
        for session in open_sessions:
            observe(now, q["buckets"], session.get(q["field"]))
        for suffix, lines in parts(q["open"]["name"], q["buckets"], now).items():
            family(q["open"]["name"] + suffix, q["open"]["help"], "untyped", lines)
        histogram(q["minute"], q["buckets"])
    histogram(families["join"], families["join"]["buckets"])
    ice = families["ice"]["name"]
    outcomes = zip(("connected", "failed"), counts["series"][ice])
    family(ice, families["ice"]["help"], "counter", [f"{ice}{label_text({**labels, 'outcome': o})} {n}" for o, n in outcomes])
    return "\n".join(out) + "\n"


class Sessions:
    """The records since the cursor, counted; the counts and the cursor in one file."""

    def __init__(self, config, state_dir):
        self.families = config["sessions"]
        self.url = f"http://127.0.0.1:{config['workload']['adminPort']}{config['workload']['sessionsPath']}"
        self.file = os.path.join(state_dir, "sessions.json")
        self.counts = fresh_session_counts(self.families)
        try:
            with open(self.file) as f:
                stored = json.load(f)
            # Counted under other families (a release changed them): start again, a reset.
            if stored["families"] == self.families:
                self.counts = stored["counts"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        # (counts, calls in progress) of the last answer, None while the server gives none: one
        # attribute, so a scrape never pairs new counts with the calls in progress before them.
        self.view = False

    def answer(self):
        cursor = self.counts.get("cursor")
        query = "?after=" + urllib.parse.quote(cursor, safe="") if cursor else ""
        status, body = call_api("GET", self.url + query, timeout=5)
        try:
            answer = json.loads(body)
            shape = [type(answer[k]) for k in ("cursor", "records", "open")]
            return answer if status == 200 and shape == [str, list, list] else None
        except (ValueError, TypeError, KeyError):
            return None

    def count(self):
        """Counts and cursor go to disk together before a scrape can see them: a restarted
        agent goes on from both, so no record is counted twice and no counter goes back. No
        fsync: a crash of the host takes the server's records too."""
        answer = self.answer()
        if answer is None:
            if self.view is not None:
                log("no session records from the media server")
            self.view = None
            return
        if answer.get("lost"):
            log(f"{answer['lost']} session record(s) lost: the agent was away longer than they are kept")
        counts = count_records(self.families, self.counts, answer)
        if counts != self.counts:
            with open(self.file + ".tmp", "w") as f:
                json.dump({"families": self.families, "counts": counts}, f)
            os.replace(self.file + ".tmp", self.file)
        self.counts = counts
        self.view = (counts, answer["open"])

    def metrics(self, labels):
        view = self.view
        return session_metrics(self.families, labels, *view) if view else ""


# --- platforms ------------------------------------------------------------------------------
# A host gets the block of its own platform only (modules/host/agent.ts, agentSource): AWS caps
# user-data at 16 KB gzipped. Each block registers itself in PLATFORMS.

PLATFORMS = {}

# --- platform: gcp ---

# How often a draining GCP host says again that it drains (its guest attribute avfleet/drain).
GUEST_DRAIN_REFRESH_SEC = 60


class Gcp:
    """Metadata server (and its guest attributes), Cloud Monitoring timeSeries.create."""

    def __init__(self, config, endpoints):
        self.config = config
        self.metadata = endpoints["metadata"].rstrip("/") + "/computeMetadata/v1/"
        self.monitoring = endpoints["monitoring"].rstrip("/")
        self.storage = endpoints.get("storage", "").rstrip("/")
        self.token = None
        self.token_expires = 0
        self.identity = None
        self.acknowledged_at = 0

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
        # The controller's reading first: a host that shows a load in Monitoring has its own.
        reported = self.guest_attribute("load", f"{int(time.time())} {streams}")
        return call_api("POST", url, auth, body)[0] == 200 and reported

    def guest_attribute(self, key, value):
        """Writes avfleet/<key> through the metadata server, with no IAM at all: only this VM
        can write its guest attributes, so the scale-in controller trusts its load and its drain
        there, not in the Cloud Monitoring gauge every metricWriter of the project can write
        (https://cloud.google.com/compute/docs/metadata/manage-guest-attributes)."""
        return (
            call_api(
                "PUT",
                self.metadata + f"instance/guest-attributes/avfleet/{key}",
                {"Metadata-Flavor": "Google"},
                value.encode(),
            )[0]
            == 200
        )

    def whereami(self):
        me = self.whoami()
        return me and (me["name"], me["zone"])

    def release(self):
        # A MIG's VM carries the template it was made from as metadata `instance-template`
        # (projects/<n>/global/instanceTemplates/<name>): the release a rollout reads it by.
        template = self.meta("instance/attributes/instance-template")
        return template.strip().rsplit("/", 1)[-1] if template else None

    def termination_notice(self):
        # An operator or a rollout marks by metadata; the pool's scale-in controller by an object
        # drain/<name> in the pool's mark bucket, as it holds no compute.instances.setMetadata.
        if (self.meta("instance/attributes/avfleet-drain") or "").strip() == "true":
            return True
        return self.drain_object_exists()

    def drain_object_exists(self):
        """Whether the controller's mark object of this VM exists: objects.get answers 404 when
        it does not (https://cloud.google.com/storage/docs/consistency). Anything
        else but 200 is no mark this tick: the controller waits for a drain it sees done."""
        marks, me, auth = self.config.get("drainMarks"), self.whoami(), self.bearer()
        if not (marks and me and auth and self.storage):
            return False
        bucket = drain_bucket(me["project"], self.config["pool"])
        name = urllib.parse.quote(marks["prefix"] + me["name"], safe="")
        url = f"{self.storage}/storage/v1/b/{bucket}/o/{name}"
        status = call_api("GET", url, auth)[0]
        if status not in (200, 404):
            log(f"drain mark {url}: HTTP {status}")
        return status == 200

    def heartbeat(self):
        """Tells the scale-in controller this host saw its mark and drains: past the drain limit
        it deletes such a host, but leaves one that never said so and still serves (blind to
        its mark, which would have its calls cut). At the drain's first tick, then once a
        minute: guest attributes take about 10 writes a minute per VM, and past that GCE may
        drop attributes being written
        (https://cloud.google.com/compute/docs/metadata/manage-guest-attributes); the load
        takes six."""
        if time.time() - self.acknowledged_at < GUEST_DRAIN_REFRESH_SEC:
            return True
        if self.guest_attribute("drain", f"draining {int(time.time())}"):
            self.acknowledged_at = time.time()
            return True
        return False

    def launch(self, ready):
        return True

    def complete(self, sessions):
        """Tells the scale-in controller the drain is done; it deletes the VM from the MIG."""
        return self.guest_attribute(
            "drain", f"done {int(time.time())} {'unknown' if sessions is None else sessions}"
        )


PLATFORMS["gcp"] = Gcp


def drain_bucket(project, pool):
    """The pool's mark bucket, as gcpDrainBucket (modules/host/metrics.ts) names it."""
    digest = hashlib.sha256(f"{project}/{pool}".encode()).hexdigest()[:12]
    return f"{pool[:40].rstrip('-_')}-drain-{digest}"


def google_registry_auth(config, registry):
    """podman's auth file for an Artifact Registry pull: the VM's token (in the gcp block, so
    hosts pulling from elsewhere do not carry it); None without a token."""
    gcp = Gcp(config, agent_endpoints(config))
    if gcp.bearer() is None:
        return None
    secret = base64.b64encode(f"oauth2accesstoken:{gcp.token}".encode()).decode()
    return {"auths": {registry: {"auth": secret}}}

# --- platform: aws ---


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
        self.readings, self.counted_at, self.pending = None, 0, []

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
        """(HTTP status, answer) of a signed Query API call; status 0 when none could be made."""
        region = self.meta("placement/region")
        role = self.meta("iam/security-credentials/")
        creds = role and self.meta("iam/security-credentials/" + role.splitlines()[0])
        if not region or not creds:
            return 0, b""
        url = self.endpoints[service].replace("{region}", region)
        body = urllib.parse.urlencode(params).encode()
        headers = sigv4("POST", url, region, service, body, json.loads(creds))
        status, answer = call_api("POST", url, headers, body)
        if status != 200:
            log(f"{service} {params['Action']}: HTTP {status} {answer[:200]!r}")
        return status, answer

    def warmed(self):
        # Warmed:Pending, Warmed:Stopped, ... : a warm pool host that serves nobody (AWS: "Retrieve
        # the target lifecycle state through instance metadata").
        return (self.meta("autoscaling/target-lifecycle-state") or "Warmed:").startswith("Warmed:")

    def publish(self, streams):
        metric = self.config["metric"]
        # A warm pool host's 0 streams would pull the group's average down: target tracking
        # would take serving hosts away.
        params = metric_data(metric["namespace"], [metric], [streams])
        return not self.warmed() and 200 == self.call("monitoring", params)[0]

    def count(self, exposition):
        """The counters the pool's alarms read (config cloudwatch), read from the host's own
        /metrics text every period and published as their increase. An increase not yet
        accepted is added to the next period's: a failed call loses nothing while the agent
        runs. A warm pool host serves no pool's sessions: what moved meanwhile is nobody's."""
        config = self.config["cloudwatch"]
        if time.time() - self.counted_at < config["periodSec"]:
            return
        self.counted_at = time.time()
        before, self.readings = self.readings, parse_exposition(exposition())
        if before is None or self.warmed():
            return
        increases = metric_increases(config["metrics"], before, self.readings)
        self.pending = [p + i for p, i in zip(self.pending, increases)] if self.pending else increases
        params = metric_data(config["namespace"], config["metrics"], self.pending)
        if self.call("monitoring", params)[0] == 200:
            self.pending = [0] * len(self.pending)

    def whereami(self):
        instance, zone = self.meta("instance-id"), self.meta("placement/availability-zone")
        return instance and zone and (instance, zone)

    def release(self):
        # The launch template version the group launched this instance from, as the tag EC2
        # adds (aws:ec2launchtemplate:version); IMDS shows tags only with instanceMetadataTags
        # enabled in the launch template (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/work-with-tags-in-IMDS.html).
        version = self.meta("tags/instance/aws:ec2launchtemplate:version")
        return f"v{version}" if version else None

    def termination_notice(self):
        # Not Warmed:Terminated: a warm pool host has no calls to drain.
        return self.meta("autoscaling/target-lifecycle-state") == "Terminated"

    def lifecycle(self, action, hook, extra):
        """(HTTP status, answer) of a lifecycle call on this instance."""
        instance = self.meta("instance-id")
        if not instance:
            return 0, b""
        return self.call(
            "autoscaling",
            {
                "Action": action,
                "Version": "2011-01-01",
                "AutoScalingGroupName": self.config["metric"]["autoScalingGroup"],
                "LifecycleHookName": hook,
                "InstanceId": instance,
                **extra,
            },
        )

    def drain_call(self, action, extra):
        """True once the drain hook took the call. "No active Lifecycle Action" while IMDS reads
        Terminated is not done: a terminating instance's hook becomes active only after it has
        left its load balancer, and IMDS reads Terminated before that; the next tick asks again.
        Any other time, nothing waits on the hook (a drain asked on the host): done."""
        status, answer = self.lifecycle(action, self.config["lifecycleHook"], extra)
        if no_active_action(status, answer):
            if self.meta("autoscaling/target-lifecycle-state") == "Terminated":
                log(f"{action}: the drain hook is not active yet; again at the next tick")
                return False
            return True
        return status == 200

    def heartbeat(self):
        return self.drain_call("RecordLifecycleActionHeartbeat", {})

    def complete(self, sessions):
        return self.drain_call("CompleteLifecycleAction", {"LifecycleActionResult": "CONTINUE"})

    def launch(self, ready):
        """The launching hook, at every boot (into the warm pool and out of it): CONTINUE once the
        host serves, a heartbeat while it comes up. True once completed; "No active Lifecycle
        Action" is done too: completed by this agent before a restart or at an earlier boot, or
        never started (the hook was added after the launch)."""
        hook = self.config["launch"]["hook"]
        if ready:
            status, answer = self.lifecycle(
                "CompleteLifecycleAction", hook, {"LifecycleActionResult": "CONTINUE"}
            )
            return status == 200 or no_active_action(status, answer)
        self.lifecycle("RecordLifecycleActionHeartbeat", hook, {})
        return False


def parse_exposition(text):
    """{(family, sorted label pairs): value} of the samples of Prometheus text format 0.0.4. Label
    values stay escaped: they only tell series apart and match the table's plain values."""
    return {
        (m[1], tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m[2] or "")))): number(m[3])
        for m in re.finditer(r"^([\w:]+)(?:\{(.*)\})?\s+(\S+)", text, re.M)
        if number(m[3]) is not None
    }


def metric_increases(metrics, before, after):
    """Per table metric (config cloudwatch.metrics), its terms' increases between two readings,
    summed over the host's series each term matches. A series' increase is Prometheus's, less
    the extrapolation: one new since `before` is only its own baseline, one that went down was
    reset to 0 (a restarted process), so all of its value is new."""
    increase = {k: v - before[k] if v >= before[k] else v for k, v in after.items() if k in before}
    return [
        sum(
            term["sign"] * value
            for term in metric["terms"]
            for (family, labels), value in increase.items()
            if family == term["family"] and set(term["match"].items()) <= set(labels)
        )
        for metric in metrics
    ]


def metric_data(namespace, metrics, values):
    """The form fields of a PutMetricData call publishing `values`, one per metric, with its
    dimensions: CloudWatch takes another set of dimensions for another metric. One call carries
    them all: modules/observe/cloud.ts keeps the table within the call's documented limits."""
    params = {"Action": "PutMetricData", "Version": "2010-08-01", "Namespace": namespace}
    for i, (metric, value) in enumerate(zip(metrics, values), 1):
        member = f"MetricData.member.{i}."
        params[member + "MetricName"] = metric["name"]
        params[member + "Unit"] = metric["unit"]
        params[member + "Value"] = sample_value(value)
        for j, (name, dimension) in enumerate(metric["dimensions"].items(), 1):
            params[f"{member}Dimensions.member.{j}.Name"] = name
            params[f"{member}Dimensions.member.{j}.Value"] = dimension
    return params


def no_active_action(status, answer):
    """Auto Scaling's answer to a lifecycle call with no action waiting on the hook."""
    return status == 400 and b"No active Lifecycle Action" in answer


PLATFORMS["aws"] = Aws

# --- platform: metal ---


class Metal:
    """Bare metal: Prometheus scrapes /metrics; the inventory's `draining` writes the request."""

    def __init__(self, config, endpoints):
        self.state_dir = under_root(config["stateDir"])
        self.host_dir = under_root(config["hostDir"])

    def publish(self, streams):
        return True

    def whereami(self):
        # The inventory names no zone: a site's hosts share one failure domain.
        return socket.gethostname(), None

    def release(self):
        # Written by the class payload this host ran: the first 12 hex of its sha256.
        try:
            with open(os.path.join(self.host_dir, "release")) as f:
                return f.read().strip() or None
        except OSError:
            return None

    def termination_notice(self):
        return False

    def heartbeat(self):
        return True

    def launch(self, ready):
        return True

    def complete(self, sessions):
        with open(os.path.join(self.state_dir, "drained"), "w") as marker:
            marker.write(f"{int(time.time())}\n")
        return True


PLATFORMS["metal"] = Metal

# --- the agent ------------------------------------------------------------------------------


def agent_endpoints(config):
    """The platform's endpoints; AVFLEET_AGENT_ENDPOINTS overrides them (the host rehearsal)."""
    endpoints = dict(config.get("endpoints", {}))
    endpoints.update(json.loads(os.environ.get("AVFLEET_AGENT_ENDPOINTS", "{}")))
    return endpoints


def health_answer(path, config, drain, tuned, workload_status):
    """(HTTP status, reason) of the health port for `path`, or None for another path.

    `workload_status` is the media server's own health answer (0: none). Readiness (`health.path`,
    the load balancer's): 200 only while no drain runs, the tuning verifies and the media server
    says 200. Liveness (`health.livenessPath`, the autohealer's): 200 while the media server
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
    if not tuned:
        return 503, "tuning does not verify"
    if workload_status != 200:
        return 503, "media server unhealthy"
    return 200, "ok"


class Agent:
    def __init__(self, config):
        self.config = config
        self.platform = PLATFORMS[config["platform"]](config, agent_endpoints(config))
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
            path, self.config, self.drain, self.tuned, self.workload.health_status()
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

    def tick(self):
        self.session_counter.count()
        if not self.drain:
            self.launch()
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
            if self.drain["reason"] == "shutdown" or self.platform.complete(sessions):
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


def serve(agent):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            answer = agent.answer(self.path)
            if answer is not None:
                status, text = answer
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

    for address in listen_addresses(agent.config["health"]):
        server = http.server.ThreadingHTTPServer((address, agent.config["health"]["port"]), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()


# RFC 1918, as the inventory's privateIp is (modules/config/net.ts).
PRIVATE_V4 = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


def listen_addresses(health):
    """Every address ("") where a cloud's firewall guards the port. Where nothing in front does
    (bare metal), the host's own private address the kernel routes the admin and monitoring
    networks from (a UDP connect sends nothing), and loopback; never a public one: an agent that
    finds no private route refuses to serve rather than serve the Internet."""
    if "via" not in health:
        return [""]
    found = []
    for cidr in health["via"]:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect((cidr.split("/")[0], 9))
            address = probe.getsockname()[0]
        except OSError:
            continue
        finally:
            probe.close()
        if any(ipaddress.ip_address(address) in net for net in PRIVATE_V4) and address not in found:
            found.append(address)
    if not found:
        raise SystemExit(
            f"avfleet-agent: no private address routes to {', '.join(health['via'])}: not serving on a public one"
        )
    return [*found, "127.0.0.1"]


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


if __name__ == "__main__":
    main()
