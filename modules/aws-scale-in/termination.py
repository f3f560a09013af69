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
# When no candidate has a reading, for a termination that is not a scale-in (instance refresh,
# maximum lifetime, rebalancing), or when the group is emptied (desired 0: a destroy), it
# returns every instance AWS suggested: the group then picks by its other termination policies,
# as it did before this function. When the readings or the group cannot be read it returns none,
# and the group asks again a little later (a cold start's slow first call is then warm); only
# after FALLBACK_AFTER such failures in a row does it return every instance, so a CloudWatch
# outage delays a scale-in but never holds it. It never fails on purpose: AWS retries a function
# that errs or times out for as long as it still has to terminate.
#
# Python 3 standard library and boto3, which the Lambda Python runtimes include
# (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html); handler `termination.handler`.
import concurrent.futures
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
# attempt within these (botocore's total_max_attempts counts the first; its max_attempts would
# count retries only: botocore config.py), both run at once, and the answer leaves in time.
CONNECT_TIMEOUT_SEC = 0.4
READ_TIMEOUT_SEC = 0.6
# What the answer keeps of the function's remaining time, when Lambda says how much is left.
ANSWER_MARGIN_SEC = 0.3
# Unreadable invocations in a row, in this warm instance, before AWS's own order is taken.
FALLBACK_AFTER = 3
failures = 0


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
    (DescribeAutoScalingGroups' group); none when the group names no numbered version ($Latest,
    $Default or a mixed instances policy), which an instance's own version cannot be compared to."""
    def template(item):
        lt = item.get("LaunchTemplate") or {}
        return lt.get("LaunchTemplateId"), str(lt.get("Version"))

    if not template(group)[1].isdigit():
        return set()
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
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    return boto3.client("cloudwatch", config=config), boto3.client("autoscaling", config=config)


# In Lambda, boto3's import and the clients belong to the instance's init, not to the two seconds
# of an invocation (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html).
if "AWS_LAMBDA_FUNCTION_NAME" in os.environ:
    clients()


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


def read_group(autoscaling, config):
    """(the outdated instance ids, the group's desired capacity)."""
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[config["group"]])
    found = groups.get("AutoScalingGroups", [])
    if not found:
        raise LookupError(f"no group {config['group']}")
    return outdated_ids(found[0]), found[0].get("DesiredCapacity")


def read_hosts(config, ids, deadline_sec):
    """(readings, outdated, desired), both calls at once, within `deadline_sec`."""
    cloudwatch, autoscaling = clients()
    now = datetime.datetime.now(datetime.timezone.utc)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    try:
        readings = pool.submit(read_readings, cloudwatch, config, ids, now)
        group = pool.submit(read_group, autoscaling, config)
        return (readings.result(timeout=deadline_sec), *group.result(timeout=deadline_sec))
    finally:
        pool.shutdown(wait=False)


def handler(event, context=None):
    global failures
    config = json.loads(os.environ[CONFIG_ENV])
    ids = [i["InstanceId"] for i in event.get("Instances", [])]
    every = {"InstanceIDs": ids}
    if event.get("Cause") != "SCALE_IN":
        return every
    left = context.get_remaining_time_in_millis() / 1000 if context else 2.0
    try:
        readings, outdated, desired = read_hosts(config, ids, max(0.1, left - ANSWER_MARGIN_SEC))
        failures = 0
    except Exception as e:  # noqa: BLE001 -- any failure: ask again, never an error
        failures += 1
        fallback = failures >= FALLBACK_AFTER
        log(
            f"cannot read the hosts ({type(e).__name__}: {e}), {failures} time(s) in a row: "
            + ("AWS's suggestion stands" if fallback else "none now, the group asks again")
        )
        return every if fallback else {"InstanceIDs": []}
    if desired == 0:
        log(f"the group is emptied: every suggested instance {ids}")
        return every
    answer, held = choose(event, readings, outdated, config["maxCutPerHost"])
    log(
        f"{event.get('Cause')}: {len(ids)} candidate(s), {len(answer['InstanceIDs'])} returned "
        f"{answer['InstanceIDs']}, {len(held)} held for their calls {held}, "
        f"readings {readings}"
    )
    return answer
