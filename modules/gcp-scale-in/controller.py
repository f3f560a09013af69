#!/usr/bin/python3
# avfleet scale-in controller of one GCP media pool
# (rendered by avfleet, modules/gcp-scale-in/controller.ts; change the fleet spec, not this file).
#
# The pool's autoscaler only scales out. Every minute Cloud Scheduler calls this function: it
# deletes from the MIG each marked host whose drain is done (its agent wrote the guest attribute
# avfleet/drain at zero sessions or at the pool's drain limit) or whose mark is older than the
# drain limit and a margin (its agent died: the limit has passed anyway); then it reads the
# autoscaler's recommendedSize and the MIG's targetSize and, when the MIG is larger, marks
# running hosts to drain: those not on the MIG's current template first (a new template reaches
# the pool as it scales in), then those expected to hold the fewest calls at the drain limit
# (each agent tells from its calls' ages), never one expected to hold more than the pool's
# per-host cut budget: that one waits for its calls to end. Nothing else deletes a VM.
# Between scale-ins it cordons: the serving hosts beyond what the members' loads need at the
# autoscaler's target, those it would drain first, get an object cordon/<VM name>; their agents
# fail the load balancer's check (no new joins, their calls kept, their load still published) so
# their calls thin out before a drain; the object goes when the load needs them again. It keeps
# headroom (a cordon or its lift takes about two minutes to act) and moves only by the count.
# A mark is an object drain/<VM name> in the pool's mark bucket, created when none exists and
# deleted with its VM; the host's agent polls it. Not instance metadata: setMetadata would let
# this function's identity set any key, `startup-script` included, root on the pool's VMs.
# Operators and a release's rollout still mark by metadata (`avfleet-drain=true`), which this
# reads as well.
# Loads come from each member's own guest attribute avfleet/load, which only that VM can write:
# the Cloud Monitoring gauge the autoscaler reads can be written by any account holding
# monitoring.metricWriter in the project, for any instance_id, so a forged series could steer
# which hosts drain. For the same reason the recommendation is not followed below the hosts the
# members' own loads need at the autoscaler's target.
# A host a release's rollout drains (`avfleet-drain-for=<release>` beside the mark) is the
# rollout's: it recreates that VM from the MIG's template once drained, so this never deletes it
# (it still counts as draining: out of service, it leaves no room for a scale-in beside it).
# A standby pool's refill (targetStatus STOPPED or SUSPENDED: the MIG boots it, then stops it
# undrained) is no host here. Its agent holds its first boot out of rotation until this writes
# admit/<VM name>.<instance id>, only for members the MIG drives to RUNNING; a VM started from
# the pool is on a later boot and serves at once.
#
# Python 3 standard library only: main.py of a Cloud Run function (entry point `scale_in`),
# or `python3 main.py` for one pass from a shell.
import concurrent.futures
import datetime
import json
import math
import os
import random
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

DRAIN_KEY = "avfleet-drain"
MARKED_AT_KEY = "avfleet-drain-at"
# Set with the metadata mark by a release's rollout, which recreates the VM itself once drained.
DRAIN_FOR_KEY = "avfleet-drain-for"
# The guest attribute a host's agent writes while it drains ("draining <epoch>": it saw its mark)
# and when its drain is done ("done <epoch> <sessionsLeft>").
GUEST_NAMESPACE = "avfleet"
GUEST_DRAIN_KEY = "drain"
# ...and at each load publish: "<epoch> <streams> <calls expected at the drain limit>", or
# "<epoch> <streams>" from an agent before #28 or without the media server's sessions.
GUEST_LOAD_KEY = "load"
# A mark older than the drain limit by this much is expired: the agent sees a mark within a tick,
# and the controller runs once a minute; past this, the agent is not coming back to say done.
EXPIRY_MARGIN_SEC = 300
# Members read at once: each takes four requests (five with a standby pool: its admission).
INSPECT_THREADS = 16
# How old a load reading may be and still count: the agent publishes once a publishEverySec
# (at least 10 s, 30 s in the example stacks), so this spans several publishes.
LOAD_LOOKBACK_SEC = 300
# Statuses retried, after these pauses (each plus up to as much again at random), then the call
# fails: Cloud Storage's retry strategy retries 408, 429 and 5xx with exponential backoff and
# jitter (https://cloud.google.com/storage/docs/retry-strategy). Compute over a rate quota
# answers 403 rateLimitExceeded and refills at the start of the next minute
# (https://cloud.google.com/compute/api-quota): no pause within this pass would do, so that 403
# is not retried; a member read so refused is left unknown and the next pass reads it again.
# Every call made is idempotent: reads, the ifGenerationMatch=0 insert (conditionally
# idempotent by the retry strategy's table), a delete that takes 404, deleteInstances with
# skipInstancesOnValidationError. No pause starts later than RETRY_WITHIN_SEC into the pass,
# which so ends within the function's 50 s timeout (controller.ts) even when every call fails.
RETRIED_STATUSES = (408, 429, 500, 502, 503, 504)
RETRY_PAUSES_SEC = (1, 2, 4)
RETRY_WITHIN_SEC = 25
# The cordon keeps in rotation enough hosts for the load at this share of the autoscaler's
# target, plus one, and never fewer than two: a cordon or its lift acts some two minutes after
# the load it answers (a reading up to 30 s old, this minute's schedule, the agent's poll, the
# balancer's check interval times its threshold), and with every host in rotation failing its
# check the balancer sends new connections to all backends, the cordoned and draining included
# (rule gcp.nlb.all-unhealthy).
CORDON_TARGET_SHARE = 0.8
CORDON_MIN_IN_ROTATION = 2


def log(message):
    print(f"avfleet-scale-in: {message}", file=sys.stderr, flush=True)


# --- the decision: pure -----------------------------------------------------------------------


def standby(member):
    """Whether the MIG means to keep this member stopped or suspended: a refill of its standby
    pool, or one in it (ManagedInstance.targetStatus, the status the MIG drives the VM to)."""
    return member.get("targetStatus") in ("STOPPED", "SUSPENDED")


def admit_name(host):
    """The admission object's name under the admit prefix: the VM's name and its instance id, so
    that a VM recreated under the same name (a new id) is not admitted by its predecessor's."""
    return f"{host['name']}.{host['id']}"


def to_admit(hosts):
    """Names of the members to admit now: those the MIG drives to RUNNING, running with nothing
    under way (not a refill still CREATING or VERIFYING), not yet admitted. A member without a
    targetStatus is not: its agent fails open after its hold."""
    return [
        h["name"]
        for h in hosts
        if (h.get("targetStatus"), h.get("running"), h.get("admitted")) == ("RUNNING", True, False)
        and h.get("id")
    ]


def drain_order(hosts):
    """The serving hosts (running, unmarked, with a load reading) in the order scale-in takes
    them: outdated first, then the fewest calls expected at the drain limit, the least loaded."""
    serving = [h for h in hosts if h["markedAt"] is None and h["running"] and h["load"] is not None]
    return sorted(serving, key=lambda h: (not h.get("outdated", False), h["left"], h["load"], h["name"]))


def decide(size, recommended, hosts, now, max_per_window, window_sec, max_cut_per_host):
    """(names of the hosts to mark for draining now, names of those that would be but wait).

    hosts: [{name, running, load (None: no recent reading), left (calls expected at the drain
    limit), markedAt (None: not draining; a number: epoch seconds of the mark, 0 when unknown),
    outdated (optional: not on the MIG's current template)}]. A host already draining counts
    toward the excess (it will leave) and, when marked within the window, toward the rate. A host
    without a load reading is never picked: it may be booting or not publishing. A host expected
    to hold more than `max_cut_per_host` calls at the limit is never picked: it waits, and the
    ones after it in line are not taken in its stead beyond the excess. A host on an outdated
    template is exempt: the release replaces it anyway, cutting what it holds then, and an old
    agent's load (every call counted as left) would otherwise keep it and drain a new one.
    """
    if recommended is None or recommended >= size:
        return [], []
    draining = [h for h in hosts if h["markedAt"] is not None]
    recent = sum(1 for h in draining if now - h["markedAt"] < window_sec)
    budget = min(size - recommended - len(draining), max_per_window - recent)
    if budget <= 0:
        return [], []
    order = drain_order(hosts)
    fits = [h["name"] for h in order if h.get("outdated") or h["left"] <= max_cut_per_host]
    over = [h["name"] for h in order if not h.get("outdated") and h["left"] > max_cut_per_host]
    chosen = fits[:budget]
    return chosen, over[: budget - len(chosen)]


def hosts_needed(hosts, per_host):
    """Hosts the members' own loads need at `per_host` streams each."""
    return -(-sum(h["load"] for h in hosts if h["load"] is not None) // per_host)


def in_rotation(load, per_host, recommended, draining):
    """Serving hosts the cordon keeps taking joins: the load at CORDON_TARGET_SHARE of the
    target, plus one, at least CORDON_MIN_IN_ROTATION, and not fewer than the recommendation
    (None: none yet) less the hosts draining."""
    at_share = math.ceil(load / (CORDON_TARGET_SHARE * per_host))
    return max(at_share + 1, CORDON_MIN_IN_ROTATION, (recommended or 0) - draining)


def to_cordon(hosts, per_host, recommended):
    """Names of the serving hosts to keep out of rotation, all but in_rotation() of them.
    Cordoned, a host takes no new joins and keeps its calls, which thin out before it is drained;
    as load returns it is put back. The set moves only by the difference in count, those
    cordoned already kept first (in drain order), so a shift in who expects the fewest calls
    does not flap cordons; new ones are those scale-in takes first."""
    order = drain_order(hosts)
    load = sum(h["load"] for h in hosts if h["load"] is not None)
    draining = sum(1 for h in hosts if h["markedAt"] is not None)
    count = max(0, len(order) - in_rotation(load, per_host, recommended, draining))
    held = [h["name"] for h in order if h.get("cordoned")]
    return (held + [h["name"] for h in order if not h.get("cordoned")])[:count]


def expired_marks(hosts, now, drain_seconds):
    """The marked hosts whose mark is older than the drain limit and EXPIRY_MARGIN_SEC. A mark of
    unknown time (0) never expires: only its agent's word takes that host away. A host drained
    for a rollout (drainFor) is the rollout's to recreate, until twice the drain limit and the
    margin have passed: a rollout killed or aborted after its mark would otherwise leave the host
    out of service for ever (and counted against the scale-in budget)."""
    def expired(h):
        limit = 2 * drain_seconds if h.get("drainFor") else drain_seconds
        return h["markedAt"] is not None and h["markedAt"] > 0 and now - h["markedAt"] >= limit + EXPIRY_MARGIN_SEC

    return [h for h in hosts if expired(h)]


def to_delete(hosts, now, drain_seconds):
    """Names of the marked hosts to take out of the MIG now: the drain is done (drainDone; a
    rollout's host only once expired), or the mark expired and the host either said it was
    draining (drainSeen: its agent saw the mark, its calls had the limit) or reports no load (its
    agent is gone). A host past its mark that never said so and still reports load is blind to
    its mark (an image without access to the mark bucket, a failing read): deleting it would cut
    every call it carries, so it stays, and blind() names it."""
    gone = {
        h["name"] for h in expired_marks(hosts, now, drain_seconds)
        if h.get("drainSeen", False) or h["load"] is None
    }
    return [
        h["name"]
        for h in hosts
        if h["name"] in gone
        or (h["markedAt"] is not None and not h.get("drainFor") and h.get("drainDone", False))
    ]


def blind(hosts, now, drain_seconds):
    """Names of the hosts past their mark that never acknowledged it and still serve."""
    return [
        h["name"] for h in expired_marks(hosts, now, drain_seconds)
        if not h.get("drainSeen", False) and h["load"] is not None
    ]


def guest_value(attributes, key):
    """The value of avfleet/<key> among a VM's guest attributes, or None."""
    for item in attributes.get("queryValue", {}).get("items", []):
        if item.get("namespace") == GUEST_NAMESPACE and item.get("key") == key:
            return item.get("value", "")
    return None


def drain_state(attributes):
    """What the host's agent last said of its drain: "draining", "done", or None."""
    word = (guest_value(attributes, GUEST_DRAIN_KEY) or "").split(" ")[0]
    return word if word in ("draining", "done") else None


def own_load(attributes, now, streams_per_session):
    """(streams, calls expected at the drain limit) the VM itself last reported, or (None, None)
    when it reported none in the lookback (or something unreadable). An agent that gave no
    expectation (before #28, or without sessions from its media server) counts every call it
    carries as one left at the limit: streams / streams per session, rounded up."""
    fields = (guest_value(attributes, GUEST_LOAD_KEY) or "").split(" ")
    try:
        at, streams = int(fields[0]), int(fields[1])
        left = float(fields[2]) if len(fields) == 3 else -(-streams // streams_per_session)
    except (ValueError, IndexError):
        return None, None
    fresh = now - LOAD_LOOKBACK_SEC <= at <= now + 60
    if not fresh or streams < 0 or not 0 <= left < float("inf") or len(fields) > 3:
        return None, None
    return streams, left


def trusted_recommendation(recommended, hosts, per_host):
    """The autoscaler's recommendation, but never below the hosts that the members' own loads
    need at `per_host` streams each, plus every member whose load is unknown (booting, or
    silent: no capacity to count on): a forged low gauge cannot drain a busy pool."""
    if recommended is None:
        return None
    unknown = sum(1 for h in hosts if h["load"] is None)
    return max(recommended, hosts_needed(hosts, per_host) + unknown)


def marked_at(items, mark_object):
    """None when the host is not draining; else the mark's epoch seconds (0 when unknown). The
    controller's own mark is an object (its timeCreated); an operator's or a rollout's, metadata."""
    meta = {i["key"]: i.get("value", "") for i in items}
    try:
        if mark_object is not None:
            return parse_time(mark_object.get("timeCreated", ""))
        if meta.get(DRAIN_KEY, "").strip().lower() != "true":
            return None
        return parse_time(meta.get(MARKED_AT_KEY, ""))
    except ValueError:
        return 0


def drain_for(items):
    """The release a rollout drains the host for, or None."""
    meta = {i["key"]: i.get("value", "") for i in items}
    return meta.get(DRAIN_FOR_KEY) or None


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- the APIs ---------------------------------------------------------------------------------


class ApiError(Exception):
    pass


class Google:
    """Metadata-server token; Compute and Cloud Storage JSON API calls."""

    def __init__(self, endpoints):
        self.metadata = endpoints["metadata"].rstrip("/") + "/computeMetadata/v1/"
        self.compute = endpoints["compute"].rstrip("/") + "/compute/v1/"
        self.storage = endpoints["storage"].rstrip("/")
        self.token = None
        self.retry_until = time.monotonic() + RETRY_WITHIN_SEC

    def call(self, method, url, body=None, ok=(200,)):
        headers = {"Authorization": f"Bearer {self.bearer()}"}
        # A POST without a body still says Content-Length: 0.
        data = b"" if method == "POST" else None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        # The last attempt (pause None) is not followed by a pause.
        for pause in RETRY_PAUSES_SEC + (None,):
            try:
                with urllib.request.urlopen(request, timeout=20) as response:
                    status, text = response.status, response.read()
            except urllib.error.HTTPError as error:
                status, text = error.code, error.read()
            if status in ok or status not in RETRIED_STATUSES or pause is None:
                break
            pause *= 1 + random.random()
            if time.monotonic() + pause > self.retry_until:
                break
            time.sleep(pause)
        if status not in ok:
            raise ApiError(f"{method} {url}: HTTP {status} {text[:300]!r}")
        return status, json.loads(text or b"{}")

    def bearer(self):
        if self.token is None:
            request = urllib.request.Request(
                self.metadata + "instance/service-accounts/default/token",
                headers={"Metadata-Flavor": "Google"},
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                self.token = json.loads(response.read())["access_token"]
        return self.token

    def pages(self, method, url, key):
        """Every item of a paginated Compute list."""
        token = None
        while True:
            sep = "&" if "?" in url else "?"
            page = url + (f"{sep}pageToken={urllib.parse.quote(token)}" if token else "")
            _, doc = self.call(method, page)
            yield from doc.get(key, [])
            token = doc.get("nextPageToken")
            if not token:
                return


def observe(api, config, now):
    """(targetSize, recommendedSize, hosts, names of the members kept stopped or suspended) of
    the pool, the hosts as decide() takes them."""
    region = f"{api.compute}projects/{config['project']}/regions/{config['region']}"
    _, autoscaler = api.call("GET", f"{region}/autoscalers/{config['autoscaler']}")
    mig_url = f"{region}/instanceGroupManagers/{config['instanceGroupManager']}"
    _, mig = api.call("GET", mig_url)
    current = (mig.get("versions") or [{}])[0].get("instanceTemplate")
    managed = list(api.pages("POST", f"{mig_url}/listManagedInstances", "managedInstances"))
    # (zone, name) -> the MIG's view of each of its VMs.
    members = {}
    in_standby = []
    for m in managed:
        parts = m["instance"].split("/")
        if standby(m):
            in_standby.append(parts[-1])
        elif m.get("targetStatus", "RUNNING") == "RUNNING":  # not one the MIG deletes or abandons
            members[(parts[-3], parts[-1])] = m
    def unread(zone, name, m, error):
        """A member whose reads failed: load unknown (never drained, counted as needed), its
        mark and cordon unknown (neither deleted nor lifted nor set this pass)."""
        log(f"unread: {name}: {error}: its load is unknown this pass")
        return {
            **identity(zone, name, m),
            "load": None,
            "admitted": None,
            "left": None,
            "cordoned": None,
            "markedAt": None,
            "outdated": False,
            "drainDone": False,
            "drainSeen": False,
            "drainFor": None,
        }

    def inspect(member):
        (zone, name), m = member
        try:
            return read(zone, name, m)
        except (ApiError, OSError, KeyError, ValueError) as error:
            return unread(zone, name, m, error)

    def read(zone, name, m):
        # One VM at a time, not instances.list: a get is granted on the pool's VMs alone, a list
        # on the whole project. A member gone meanwhile (404) is no host.
        url = f"{api.compute}projects/{config['project']}/zones/{zone}/instances/{name}"
        status, vm = api.call("GET", url, ok=(200, 404))
        if status == 404:
            return None
        items = vm.get("metadata", {}).get("items", [])
        marked = marked_at(items, mark_object(api, config, name))
        attributes = guest_attributes(api, config, zone, name)
        template = (m.get("version") or {}).get("instanceTemplate")
        load, left = own_load(attributes, now, config["streamsPerSession"])
        host = {
            **identity(zone, name, m),
            "load": load,
            "left": left,
            "cordoned": mark_object(api, config, name, "cordonPrefix") is not None,
            "markedAt": marked,
            "outdated": bool(current and template and template != current),
            "drainDone": marked is not None and drain_state(attributes) == "done",
            "drainSeen": marked is not None and drain_state(attributes) is not None,
            "drainFor": drain_for(items),
            "admitted": None,
        }
        if "admitPrefix" in config["drainMarks"] and host["id"]:
            host["admitted"] = mark_object(api, config, admit_name(host), "admitPrefix") is not None
        return host

    # Four or five reads per member: in sequence, a pool of 100 hosts would take most of the
    # function's timeout. The token was fetched by the calls above, before any thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=INSPECT_THREADS) as pool:
        hosts = [h for h in pool.map(inspect, sorted(members.items())) if h is not None]
    return int(mig["targetSize"]), autoscaler.get("recommendedSize"), hosts, sorted(in_standby)


def identity(zone, name, m):
    """What the MIG says of one member (ManagedInstance `m`), as decide() takes a host."""
    return {"name": name, "zone": zone, "instance": m["instance"], "id": m.get("id"),
            "targetStatus": m.get("targetStatus"), "running": running(m)}


def running(member):
    """Whether the MIG has the VM running with nothing under way on it."""
    return member.get("instanceStatus") == "RUNNING" and member.get("currentAction", "NONE") == "NONE"


def guest_attributes(api, config, zone, name):
    """The VM's guest attributes under avfleet/; none yet is a 404, read as empty."""
    url = (
        f"{api.compute}projects/{config['project']}/zones/{zone}/instances/{name}"
        f"/getGuestAttributes?queryPath={GUEST_NAMESPACE}%2F"
    )
    status, doc = api.call("GET", url, ok=(200, 404))
    return doc if status == 200 else {}


def mark_url(api, config, name, upload=False, kind="prefix"):
    """The JSON API URL of the host's mark object, or with kind "cordonPrefix" its cordon
    object (its name URL-encoded, / included)."""
    marks = config["drainMarks"]
    quoted = urllib.parse.quote(marks[kind] + name, safe="")
    if upload:
        return (
            f"{api.storage}/upload/storage/v1/b/{marks['bucket']}/o"
            f"?uploadType=media&name={quoted}&ifGenerationMatch=0"
        )
    return f"{api.storage}/storage/v1/b/{marks['bucket']}/o/{quoted}"


def mark_object(api, config, name, kind="prefix"):
    """The host's mark (or cordon) object's resource, or None: objects.get answers 404 when
    there is none (https://cloud.google.com/storage/docs/consistency)."""
    status, doc = api.call("GET", mark_url(api, config, name, kind=kind), ok=(200, 404))
    return doc if status == 200 else None


def mark(api, config, host, kind="prefix", name=None):
    """Creates the host's mark (or cordon, or admission: `name`) object, empty; False when one
    exists already: ifGenerationMatch=0 lets the upload through only where no live object is,
    else 412 (https://cloud.google.com/storage/docs/request-preconditions)."""
    url = mark_url(api, config, name or host["name"], upload=True, kind=kind)
    status, _ = api.call("POST", url, ok=(200, 412))
    return status == 200


def unmark(api, config, name, kind):
    """Deletes the host's mark or cordon object: 204 once deleted, 404 when there was none."""
    api.call("DELETE", mark_url(api, config, name, kind=kind), ok=(204, 404))


def delete(api, config, hosts):
    """Takes the hosts out of the MIG (its targetSize shrinks with them)."""
    url = (
        f"{api.compute}projects/{config['project']}/regions/{config['region']}"
        f"/instanceGroupManagers/{config['instanceGroupManager']}/deleteInstances"
    )
    body = {"instances": [h["instance"] for h in hosts], "skipInstancesOnValidationError": True}
    api.call("POST", url, body)
    # A later VM may get a deleted one's name: it must not be born marked, nor cordoned.
    for h in hosts:
        unmark(api, config, h["name"], "prefix")
        if h["cordoned"]:
            unmark(api, config, h["name"], "cordonPrefix")
        if h.get("admitted"):
            unmark(api, config, admit_name(h), "admitPrefix")


def run_once(config, endpoints, now):
    api = Google(endpoints)
    size, recommended, hosts, in_standby = observe(api, config, now)
    # First, before anything this pass might fail at: a scale-out's new hosts wait for it.
    admitted = []
    if "admitPrefix" in config["drainMarks"]:
        wanted = set(to_admit(hosts))
        admitted = [
            h["name"]
            for h in hosts
            if h["name"] in wanted and mark(api, config, h, "admitPrefix", admit_name(h))
        ]
    live = [h for h in hosts if h["running"]]
    if live and all(h["load"] is None for h in live):
        log(
            f"no load: none of the {len(live)} running member(s) reported avfleet/{GUEST_LOAD_KEY} "
            f"in the last {LOAD_LOOKBACK_SEC} s, so none can be drained or cordoned: does the "
            "instance template set metadata enable-guest-attributes=TRUE, and do the agents run?"
        )
    leaving = set(to_delete(hosts, now, config["drainSeconds"]))
    if leaving:
        delete(api, config, [h for h in hosts if h["name"] in leaving])
    hosts = [h for h in hosts if h["name"] not in leaving]
    size -= len(leaving)
    recommended = trusted_recommendation(recommended, hosts, config["hostTarget"])
    budget = config["maxCutPerHost"]
    chosen, waiting = decide(
        size, recommended, hosts, now, config["maxHostsPerWindow"], config["windowSec"], budget
    )
    by_name = {h["name"]: h for h in hosts}
    marked = [name for name in chosen if mark(api, config, by_name[name])]
    for name in waiting:
        log(
            f"waiting: {name} expects {by_name[name]['left']:.1f} call(s) at the drain limit, "
            f"over the budget of {budget} per host: not drained until its calls end"
        )
    # Cordons follow the hosts as they are after this pass's marks: a host just marked drains.
    for name in marked:
        by_name[name]["markedAt"] = now
    cordon = set(to_cordon(hosts, config["hostTarget"], recommended))
    for h in hosts:
        if h["markedAt"] is not None:
            continue
        if h["name"] in cordon and not h["cordoned"]:
            mark(api, config, h, "cordonPrefix")
        elif h["name"] not in cordon and h["cordoned"]:
            unmark(api, config, h["name"], "cordonPrefix")
    draining = sum(1 for h in hosts if h["markedAt"] is not None) - len(marked)
    unseen = blind(hosts, now, config["drainSeconds"])
    if unseen:
        log(
            f"blind: {', '.join(unseen)} never said they saw their mark in "
            f"gs://{config['drainMarks']['bucket']}/{config['drainMarks']['prefix']} and still "
            "serve: left in place with their calls; check their agent can read the mark "
            "(an image from before the mark bucket needs a rollout)"
        )
    report = {
        "size": size,
        "recommended": recommended,
        "draining": draining,
        "marked": marked,
        "waiting": waiting,
        "cordoned": sorted(cordon),
        "deleted": sorted(leaving),
        "blind": unseen,
    }
    if "admitPrefix" in config["drainMarks"]:
        report.update({"standby": in_standby, "admitted": admitted})
    log(json.dumps(report))
    return report


def settings():
    config = json.loads(os.environ["AVFLEET_SCALE_IN"])
    endpoints = dict(config.pop("endpoints"))
    endpoints.update(json.loads(os.environ.get("AVFLEET_SCALE_IN_ENDPOINTS", "{}")))
    return config, endpoints


def scale_in(request):
    """The Cloud Run function's HTTP entry point (Cloud Scheduler, OIDC-authenticated)."""
    config, endpoints = settings()
    try:
        return json.dumps(run_once(config, endpoints, datetime.datetime.now().timestamp())), 200
    except (ApiError, OSError, KeyError, ValueError) as error:
        log(f"run failed: {error}")
        return json.dumps({"error": str(error)}), 500


if __name__ == "__main__":
    config, endpoints = settings()
    print(json.dumps(run_once(config, endpoints, datetime.datetime.now().timestamp())))
