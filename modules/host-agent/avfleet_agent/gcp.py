# avfleet-agent: a GCE VM's adapter: the metadata server (and its guest attributes), Cloud
# Monitoring, and the pool's mark bucket in Cloud Storage.
import base64
import hashlib
import json
import os
import time
import urllib.parse

from . import common
from .cloud import CloudInstanceManager, agent_endpoints
from .common import log, now_utc, under_root

# How often a draining GCP host says again that it drains (its guest attribute avfleet/drain).
GUEST_DRAIN_REFRESH_SEC = 60
# How long a cordon stands on failed reads of its object: a transient Cloud Storage error (429,
# 5xx, a timeout) must not put a cordoned host back in rotation, but a bucket unreadable for
# good must not keep the host out of it for ever either: past this, the host fails open.
CORDON_STALE_SEC = 300
# This boot's id (random.4: a new one at each boot), and where the agent keeps the first boot's:
# a standby pool's refill is created, boots once and is stopped, so only a first boot may be one.
BOOT_ID = "/proc/sys/kernel/random/boot_id"
FIRST_BOOT_FILE = "first-boot"


class Gcp(CloudInstanceManager):
    """Metadata server (and its guest attributes), Cloud Monitoring timeSeries.create."""

    def __init__(self, config, endpoints):
        super().__init__(config, endpoints)
        self.metadata = endpoints["metadata"].rstrip("/") + "/computeMetadata/v1/"
        self.monitoring = endpoints["monitoring"].rstrip("/")
        self.storage = endpoints.get("storage", "").rstrip("/")
        self.token = None
        self.token_expires = 0
        self.identity = None
        self.acknowledged_at = 0
        self.cordon = False
        self.cordon_read_at = time.time()
        self.admitted = False

    def meta(self, path):
        status, body = common.call_api("GET", self.metadata + path, {"Metadata-Flavor": "Google"})
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
        # A held first boot (a possible standby refill) takes no joins: its 0 says nothing of the
        # demand and would pull the autoscaler's per-instance average down.
        me, auth = self.whoami(), self.bearer()
        if me is None or auth is None or self.held():
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
                    "value": {"int64Value": str(self.autoscaler_load(streams))},
                }
            ],
        }
        url = f"{self.monitoring}/v3/projects/{me['project']}/timeSeries"
        body = json.dumps({"timeSeries": [series]}).encode()
        # The gauge is the autoscaler's, which sizes the MIG to hold the members' average at the
        # target (https://cloud.google.com/compute/docs/autoscaler/scaling-cloud-monitoring-metrics):
        # a draining host's MIG slot counts as one full host. The guest attribute keeps the real
        # streams: the controller's own reading.
        # The controller's reading first: a host that shows a load in Monitoring has its own.
        # The calls expected at the drain limit ride in the same write, once a publishEverySec
        # (at least 10 s, 30 s in the example stacks; the attribute takes about 10 writes a
        # minute): "<epoch> <streams> <calls>", or the old "<epoch> <streams>"
        # while the media server gives no sessions; the controller reads both.
        left = "" if self.expected_left is None else f" {self.expected_left:.2f}"
        reported = self.guest_attribute("load", f"{int(time.time())} {streams}{left}")
        return common.call_api("POST", url, auth, body)[0] == 200 and reported

    def guest_attribute(self, key, value):
        """Writes avfleet/<key> through the metadata server, with no IAM at all: only this VM
        can write its guest attributes, so the scale-in controller trusts its load and its drain
        there, not in the Cloud Monitoring gauge every metricWriter of the project can write
        (https://cloud.google.com/compute/docs/metadata/manage-guest-attributes)."""
        return (
            common.call_api(
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
        """Whether the controller's mark object of this VM exists. Anything else but 200 is no
        mark this tick: the controller waits for a drain it sees done."""
        return self.object_status("prefix") == 200

    def cordoned(self):
        """Whether the controller's cordon object of this VM exists: the host then fails the load
        balancer's check (no new joins) and keeps its calls. Only a 404 lifts a cordon; on a
        failed read the last answer stands, up to CORDON_STALE_SEC after the last good one. A
        possible standby refill not yet admitted (held()) is out of rotation the same way."""
        if self.held():
            return True
        status = self.object_status("cordonPrefix")
        if status is None or status in (200, 404):
            self.cordon, self.cordon_read_at = status == 200, time.time()
        elif self.cordon and time.time() - self.cordon_read_at > CORDON_STALE_SEC:
            log(f"cordon unread for over {CORDON_STALE_SEC} s: back in rotation (fail open)")
            self.cordon = False
        return self.cordon

    def held(self):
        """Whether the host keeps itself out of rotation as a possible refill of the pool's
        standby pool (config standbyHold): on the VM's first boot only, until the scale-in
        controller admits it (it does so for a member the MIG drives to RUNNING, never for one it
        will stop) or failOpenSec after the boot (a refill is stopped by then). Once admitted, for
        the rest of the boot: a later read cannot take it out again. A later boot serves at once:
        the MIG started it (a scale-out from the pool), or it rebooted."""
        hold = self.config.get("standbyHold")
        if not hold or self.admitted:
            return False
        if not first_boot(under_root(self.config["stateDir"])):
            self.admitted = True
            return False
        me = self.whoami()
        name = me and f"{me['name']}.{me['instanceId']}"
        if name and self.object_status("admitPrefix", name) == 200:
            log("admitted by the scale-in controller: in rotation")
            self.admitted = True
        elif time.time() - boot_started(self.config) >= hold["failOpenSec"]:
            log(
                f"no admission {hold['failOpenSec']} s into the first boot, when a standby refill "
                "would have been stopped: in rotation (fail open); does the scale-in controller run?"
            )
            self.admitted = True
        return not self.admitted

    def object_status(self, kind, name=None):
        """objects.get's status for object <drainMarks[kind]><VM name, or `name`> of the pool's
        mark bucket: 404 when it does not exist
        (https://cloud.google.com/storage/docs/consistency); 0 when no identity or token came to
        ask with; None when the host has no such marks."""
        marks = self.config.get("drainMarks")
        if not (marks and kind in marks and self.storage):
            return None
        me, auth = self.whoami(), self.bearer()
        if not (me and auth):
            return 0
        bucket = drain_bucket(me["project"], self.config["pool"])
        name = urllib.parse.quote(marks[kind] + (name or me["name"]), safe="")
        url = f"{self.storage}/storage/v1/b/{bucket}/o/{name}"
        status = common.call_api("GET", url, auth)[0]
        if status not in (200, 404):
            log(f"mark {url}: HTTP {status}")
        return status

    def heartbeat(self):
        """Tells the scale-in controller this host saw its mark and drains: past the drain limit
        it deletes such a host, but leaves one that never said so and still serves (blind to
        its mark, which would have its calls cut). At the drain's first tick, then once a
        minute: guest attributes take about 10 writes a minute per VM, and past that GCE may
        drop attributes being written
        (https://cloud.google.com/compute/docs/metadata/manage-guest-attributes); the load
        takes two (once a publishEverySec, 30 s in the example stacks) to six (at its floor,
        10 s)."""
        if time.time() - self.acknowledged_at < GUEST_DRAIN_REFRESH_SEC:
            return True
        if self.guest_attribute("drain", f"draining {int(time.time())}"):
            self.acknowledged_at = time.time()
            return True
        return False

    def complete(self, sessions):
        """Tells the scale-in controller the drain is done; it deletes the VM from the MIG."""
        return self.guest_attribute(
            "drain", f"done {int(time.time())} {'unknown' if sessions is None else sessions}"
        )


def first_boot(state_dir):
    """Whether this is the first boot of the VM's disk: the agent's state keeps the first boot's
    id, written at its first start (a recreated VM has a new disk, and a first boot again). The
    kernel's id, never under the root (a rehearsal's host is a network namespace); unreadable,
    no boot counts as a first one: the host serves rather than wait for ever."""
    try:
        with open(BOOT_ID) as f:
            boot = f.read().strip()
    except OSError as error:
        log(f"no boot id ({error}): not held as a standby refill")
        return False
    path = os.path.join(state_dir, FIRST_BOOT_FILE)
    try:
        with open(path) as f:
            return f.read().strip() == boot
    except FileNotFoundError:
        with open(path + ".tmp", "w") as f:
            f.write(boot + "\n")
        os.replace(path + ".tmp", path)
        return True


def boot_started(config):
    """When this boot began: the agent's mark of it in the run directory, emptied at each boot."""
    return os.path.getmtime(os.path.join(under_root(config["runDir"]), "booted"))


def drain_bucket(project, pool):
    """The pool's mark bucket, as gcpDrainBucket (modules/host/metrics.ts) names it."""
    digest = hashlib.sha256(f"{project}/{pool}".encode()).hexdigest()[:12]
    return f"{pool[:40].rstrip('-_')}-drain-{digest}"


def google_registry_auth(config, registry):
    """podman's auth file for an Artifact Registry pull: the VM's token (in gcp.py, which hosts
    pulling from elsewhere do not carry); None without a token."""
    gcp = Gcp(config, agent_endpoints(config))
    if gcp.bearer() is None:
        return None
    secret = base64.b64encode(f"oauth2accesstoken:{gcp.token}".encode()).decode()
    return {"auths": {registry: {"auth": secret}}}
