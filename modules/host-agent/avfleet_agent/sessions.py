# avfleet-agent: per-session quality. The media server's session records (the workload
# contract, docs/reference/hosts.md), counted and rendered as modules/host-series/sessions.ts does,
# held equal by its test.
import json
import math
import os
import urllib.parse

from . import common
from .common import label_text, log, sample_value



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


def expected_left(table, ages_sec):
    """Calls expected to be still running table["limitMin"] minutes from now, given each open
    call's age in seconds: modules/world/demand.ts expectedLeft, on the table the fleet renders
    from its session mix (survivalTable), so the host and the replay agree. A call that has lasted
    a minutes is in phase k with odds share_k * s_k^a and lasts the limit more with s_k^limit; the
    odds in logs, so a call of days does not underflow. An age that is no number counts as a
    call that stays: the budget errs towards waiting, not cutting."""
    left = 0.0
    for age in ages_sec:
        if type(age) not in (int, float) or not 0 <= age < float("inf"):
            left += 1
            continue
        phases = table["phases"]
        logs = [math.log(p["share"]) + age / 60 * math.log(p["survivalPerMinute"]) for p in phases]
        top = max(logs)
        odds = [math.exp(x - top) for x in logs]
        stays = sum(w * p["survivalPerMinute"] ** table["limitMin"] for w, p in zip(odds, phases))
        left += stays / sum(odds)
    return left


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
        status, body = common.call_api("GET", self.url + query, timeout=5)
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

    def expected_left(self, table):
        """The calls of the last answer expected at the drain limit, or None without one."""
        view = self.view
        return expected_left(table, [s.get("durationSeconds") for s in view[1]]) if view else None

    def metrics(self, labels):
        view = self.view
        return session_metrics(self.families, labels, *view) if view else ""
