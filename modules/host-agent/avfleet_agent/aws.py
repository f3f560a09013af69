# avfleet-agent: an EC2 instance's adapter: IMDSv2, CloudWatch PutMetricData, Auto Scaling
# lifecycle actions (Query API, SigV4).
import hashlib
import hmac
import json
import random
import re
import time
import urllib.parse

from . import common
from .cloud import TERMINATION, CloudInstanceManager
from .common import log, now_utc, number, sample_value

# Scale-in protection's band and pace (docs/real-path.md, "AWS drains beyond two hours"). Set
# above the budget, cleared only under 85 % of it: a host whose calls hover at the budget does
# not flip every tick, and SetInstanceProtection answers ResourceContention to a group updated
# too often (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_SetInstanceProtection.html).
PROTECT_CLEAR_SHARE = 0.85
# Between two changes; a draining host is cleared at once (it takes no new call, for good).
PROTECT_CHANGE_GAP_SEC = 300
# The value held is sent again this often (±10 %, so a group's hosts spread out): what the group
# holds drifts from it. "When Amazon EC2 Auto Scaling launches a new instance or moves an
# instance from a warm pool into the Auto Scaling group, the instance inherits the instance
# scale-in protection setting of the Auto Scaling group", and a detached instance's setting is
# lost (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-instance-protection.html);
# the provider clears every instance's protection when it deletes the group (terraform-provider-aws
# `disableASGScaleInProtections`, aws/resource_aws_autoscaling_group.go), while agents still run.
PROTECT_RESEND_SEC = 600
# No reading of the calls in progress for this long (the media server does not answer): the
# host is open to scale-in, as a host with a dead media server is no capacity to keep.
PROTECT_UNREAD_SEC = 300


def protection_wanted(held, left, budget, unread_sec):
    """Whether scale-in protection should hold on a host `held` so (None: unknown) with `left`
    calls expected at the drain limit (None: no reading for `unread_sec` s) against the per-host
    cut `budget`; None: nothing to decide yet."""
    if left is None:
        return False if unread_sec >= PROTECT_UNREAD_SEC else held
    if left > budget:
        return True
    if left < PROTECT_CLEAR_SHARE * budget:
        return False
    # In the band: as held; a restarted agent's unknown is under the budget, so open.
    return bool(held)


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


class Aws(CloudInstanceManager):
    """IMDSv2, CloudWatch PutMetricData, Auto Scaling lifecycle actions (Query API, SigV4)."""

    def __init__(self, config, endpoints):
        super().__init__(config, endpoints)
        self.imds = endpoints["imds"].rstrip("/")
        self.token = None
        self.token_expires = 0
        self.readings, self.counted_at, self.pending = None, 0, []
        # Unknown at start (a restarted agent's host may be protected): set at the first tick.
        self.protected = None
        self.protection_changed_at = float("-inf")
        self.protection_due = float("-inf")
        self.read_at = None

    def meta(self, path, retry=True):
        if time.time() >= self.token_expires - 60:
            status, body = common.call_api(
                "PUT",
                self.imds + "/latest/api/token",
                {"X-aws-ec2-metadata-token-ttl-seconds": "21600"},
                b"",
            )
            if status != 200:
                return None
            self.token, self.token_expires = body.decode(), time.time() + 21600
        status, body = common.call_api(
            "GET", f"{self.imds}/latest/meta-data/{path}", {"X-aws-ec2-metadata-token": self.token}
        )
        if status == 401 and retry:
            # IMDS answers 401 to a token it no longer takes (expired, or IMDS restarted): a new
            # one, once, as the AWS SDKs' IMDS clients do (docs/real-path.md, #28's review).
            log(f"IMDS refused its token on {path}: a new one")
            self.token_expires = 0
            return self.meta(path, retry=False)
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
        status, answer = common.call_api("POST", url, headers, body)
        if status != 200:
            log(f"{service} {params['Action']}: HTTP {status} {answer[:200]!r}")
        return status, answer

    def target_state(self):
        # InService, Terminated, Warmed:Stopped, ... (AWS: "Retrieve the target lifecycle state
        # through instance metadata"); unread: taken as a warm pool host's, which serves nobody.
        return self.meta("autoscaling/target-lifecycle-state") or "Warmed:"

    def warmed(self):
        return self.target_state().startswith("Warmed:")

    def publish(self, streams):
        # A warm pool host's 0 streams would pull the group's average down: target tracking
        # would take serving hosts away; so would a terminating host's (Terminating:Wait, out of
        # the group's capacity while its calls thin out). One draining InService shows the target.
        # Only InService counts: a host drained on request and then taken by scale-in is in
        # Terminating:Wait (target state Terminated) whatever its drain's reason.
        if self.target_state() != "InService" or self.draining == TERMINATION:
            return False
        metric = self.config["metric"]
        metrics, values = left_at_limit(metric, self.meta("instance-id"), self.expected_left)
        load = self.autoscaler_load(streams)
        params = metric_data(metric["namespace"], [metric, *metrics], [load, *values])
        return 200 == self.call("monitoring", params)[0]

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

    def protect(self, left, budget, draining=False):
        """Instance scale-in protection on this instance, by protection_wanted, or cleared at once
        while the host drains. A change waits PROTECT_CHANGE_GAP_SEC after the last; the value
        held is sent again every PROTECT_RESEND_SEC ±10 %; a failed call is made again at the
        next tick. Only while IMDS reads InService (or nothing): a terminating host is past
        choosing, and SetInstanceProtection refuses a warm pool instance (which holds no calls)."""
        now = time.time()
        if left is not None or self.read_at is None:
            self.read_at = now
        want = False if draining else protection_wanted(self.protected, left, budget, now - self.read_at)
        if want is None:
            return
        change = want != self.protected
        if change and not draining and now - self.protection_changed_at < PROTECT_CHANGE_GAP_SEC:
            return
        if not change and now < self.protection_due:
            return
        if self.meta("autoscaling/target-lifecycle-state") not in (None, "InService"):
            return
        instance = self.meta("instance-id")
        if not instance:
            return
        status, _ = self.call(
            "autoscaling",
            {
                "Action": "SetInstanceProtection",
                "Version": "2011-01-01",
                "AutoScalingGroupName": self.config["metric"]["autoScalingGroup"],
                "InstanceIds.member.1": instance,
                "ProtectedFromScaleIn": "true" if want else "false",
            },
        )
        if status != 200:
            return
        self.protection_due = now + PROTECT_RESEND_SEC * random.uniform(0.9, 1.1)
        if change:
            self.protected, self.protection_changed_at = want, now
            verb = "protected from" if want else "open to"
            if draining:
                why = "the host drains"
            elif left is None:
                why = f"no reading of the calls in progress for {int(now - self.read_at)} s"
            else:
                why = f"{left:.1f} call(s) expected at the drain limit"
            log(f"{verb} scale-in: {why}")

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


def left_at_limit(metric, instance, left):
    """([metric], [value]) of this instance's calls expected at the drain limit, published in
    the same call as the load, per instance (dimension InstanceId beside the group's), for the
    pool's termination policy (modules/aws-scale-in/termination.py); ([], []) with no reading.
    A series per instance costs as a custom metric only while it receives points
    (docs/real-path.md, "AWS scale-in by calls left at the drain limit")."""
    if not metric.get("callsLeftAtLimit") or left is None or not instance:
        return [], []
    dimensions = {**metric["dimensions"], "InstanceId": instance}
    return [{**metric["callsLeftAtLimit"], "dimensions": dimensions}], [left]


def metric_data(namespace, metrics, values):
    """The form fields of a PutMetricData call publishing `values`, one per metric, with its
    dimensions: CloudWatch takes another set of dimensions for another metric. One call carries
    them all: modules/alerting/cloud.ts keeps the table within the call's documented limits."""
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
