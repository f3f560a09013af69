#!/usr/bin/python3
# avfleet custom termination policy of one AWS media pool
# (rendered by avfleet, modules/aws-scale-in/termination.ts; change the fleet spec, not this file).
#
# EC2 Auto Scaling invokes this Lambda function when it scales the pool's group in, with the
# instances it may terminate and how many it needs per zone, and terminates the ones it returns
# (https://docs.aws.amazon.com/autoscaling/ec2/userguide/lambda-custom-termination-policy.html).
# It returns, per zone, exactly the count asked: with more, the group would pick among them by
# its next termination policies (OldestLaunchTemplate, OldestInstance), not by this order. The
# order is the GCP scale-in controller's: hosts not on the group's launch template version first
# (the release reaches the pool as it scales in), then those expected to hold the fewest calls at
# the drain limit, which each host's agent publishes to CloudWatch as CallsLeftAtLimit (namespace
# AVFleet/Media/<pool>, dimensions AutoScalingGroupName and InstanceId); a host with no reading
# in LOOKBACK_SEC comes after every host with one. A host expected to hold more than the pool's
# per-host cut budget is not returned (an outdated one is): the group, one short, invokes this
# again a little later, as long as its desired capacity is below its current one, and takes the
# host once its calls have ended. Its agent also protects it from scale-in above the budget
# (avfleet_agent/aws.py), so a forged reading cannot take a protected host.
# When the readings or the group cannot be read, when no candidate has a reading, or for a
# termination that is not a scale-in (instance refresh, maximum lifetime, rebalancing), it
# returns every instance AWS suggested: the group then picks by its other termination policies,
# as it did before this function. It never fails on purpose: AWS retries a function that errs
# or times out for as long as it still has to terminate, so a failure would hold the scale-in.
#
# Python 3 standard library and boto3, which the Lambda Python runtimes include
# (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html); handler `termination.handler`.
import datetime
import functools
import json
import os
import sys

# The environment variable holding the pool's settings (termination.ts terminationConfig).
CONFIG_ENV = "AVFLEET_TERMINATION"
# How old a reading may be and still count: the agent publishes every agent.intervalSec (at least
# 10 s, 30 s in the example stacks), so this spans several publishes, as on GCP.
LOOKBACK_SEC = 300
# GetMetricData takes at most 500 queries per call
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html); a
# candidate beyond them is read as without a reading.
MAX_QUERIES = 500
# AWS gives the function two seconds in all (the page above, "Limitations"): each call gets one
# attempt within these, and the fallback answers in time.
CONNECT_TIMEOUT_SEC = 0.4
READ_TIMEOUT_SEC = 0.6


# --- the decision: pure -----------------------------------------------------------------------


def termination_order(candidates):
    """The candidates ({id, outdated, left: calls expected at the drain limit or None}) in the
    order scale-in takes them: outdated first, then those with a reading, fewest calls first."""
    return sorted(
        candidates,
        key=lambda c: (not c["outdated"], c["left"] is None, c["left"] or 0, c["id"]),
    )


def choose(event, readings, outdated, budget):
    """({"InstanceIDs": [...]}, [ids held for their calls]) for an invocation `event` (AWS's
    payload), `readings` {instance id: calls expected at the drain limit} (None: unreadable),
    `outdated` {ids not on the group's launch template version} (None: unreadable) and the
    per-host cut `budget`. Per zone and purchase option of CapacityToTerminate, the first
    `Capacity` of termination_order among the suggested instances there, none over the budget
    unless outdated; every suggested instance when there is nothing to decide on: not a scale-in,
    the hosts unreadable, or none of them with a reading (agents from before this function)."""
    suggested = event.get("Instances", [])
    every = {"InstanceIDs": [i["InstanceId"] for i in suggested]}
    if event.get("Cause") != "SCALE_IN" or readings is None or outdated is None:
        return every, []
    if not any(i["InstanceId"] in readings for i in suggested):
        return every, []
    chosen, held = [], []
    for need in event.get("CapacityToTerminate", []):
        here = [
            {"id": i, "outdated": i in outdated, "left": readings.get(i)}
            for i in (s["InstanceId"] for s in suggested if market(s) == market(need)
                      and s.get("AvailabilityZone") == need.get("AvailabilityZone"))
            if i not in chosen
        ]
        fits = []
        for c in termination_order(here):
            if c["outdated"] or c["left"] is None or c["left"] <= budget:
                fits.append(c["id"])
            else:
                held.append(c["id"])
        chosen += fits[: need.get("Capacity", 0)]
    return {"InstanceIDs": chosen}, held


def market(entry):
    """An instance's or a need's purchase option (on-demand unless the payload says)."""
    return entry.get("InstanceMarketOption", "on-demand")


def latest_values(results):
    """{query id: the newest value} of GetMetricData's MetricDataResults (TimestampDescending)."""
    return {r["Id"]: r["Values"][0] for r in results if r.get("Values")}


def outdated_ids(group):
    """Ids of the group's instances not on its launch template and version
    (DescribeAutoScalingGroups' group)."""
    def template(item):
        lt = item.get("LaunchTemplate") or {}
        return lt.get("LaunchTemplateId"), str(lt.get("Version"))

    return {i["InstanceId"] for i in group.get("Instances", []) if template(i) != template(group)}


def metric_queries(config, ids):
    """GetMetricData queries of each instance's CallsLeftAtLimit, in its pool's namespace."""
    return [
        {
            "Id": f"i{n}",
            "MetricStat": {
                "Metric": {
                    "Namespace": config["namespace"],
                    "MetricName": config["metricName"],
                    "Dimensions": [
                        {"Name": "AutoScalingGroupName", "Value": config["group"]},
                        {"Name": "InstanceId", "Value": instance},
                    ],
                },
                "Period": 60,
                "Stat": "Maximum",
            },
            "ReturnData": True,
        }
        for n, instance in enumerate(ids[:MAX_QUERIES])
    ]


# --- the calls --------------------------------------------------------------------------------


def log(message):
    print(f"avfleet-termination: {message}", file=sys.stderr, flush=True)


@functools.lru_cache(maxsize=1)
def clients():
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SEC,
        read_timeout=READ_TIMEOUT_SEC,
        retries={"max_attempts": 1, "mode": "standard"},
    )
    return boto3.client("cloudwatch", config=config), boto3.client("autoscaling", config=config)


def read_readings(cloudwatch, config, ids, now):
    queries = metric_queries(config, ids)
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=queries,
        StartTime=now - datetime.timedelta(seconds=LOOKBACK_SEC),
        EndTime=now,
        ScanBy="TimestampDescending",
    )
    values = latest_values(answer.get("MetricDataResults", []))
    return {ids[int(q["Id"][1:])]: values[q["Id"]] for q in queries if q["Id"] in values}


def read_outdated(autoscaling, config):
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[config["group"]])
    found = groups.get("AutoScalingGroups", [])
    return outdated_ids(found[0]) if found else None


def handler(event, context=None):
    config = json.loads(os.environ[CONFIG_ENV])
    ids = [i["InstanceId"] for i in event.get("Instances", [])]
    readings = outdated = None
    if event.get("Cause") == "SCALE_IN":
        try:
            cloudwatch, autoscaling = clients()
            now = datetime.datetime.now(datetime.timezone.utc)
            readings = read_readings(cloudwatch, config, ids, now)
            outdated = read_outdated(autoscaling, config)
        except Exception as e:  # any failure: AWS's own order, never a blocked scale-in
            log(f"cannot read the hosts ({type(e).__name__}: {e}); AWS's suggestion stands")
    answer, held = choose(event, readings, outdated, config["maxCutPerHost"])
    log(
        f"{event.get('Cause')}: {len(ids)} candidate(s), {len(answer['InstanceIDs'])} returned "
        f"{answer['InstanceIDs']}, {len(held)} held for their calls {held}, "
        f"readings {readings}"
    )
    return answer
