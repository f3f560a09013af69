# avfleet-agent: what the agent asks of the platform its host runs on, one adapter per platform
# (gcp.py, aws.py, metal.py) behind this interface, as jitsi-autoscaler's CloudInstanceManager
# puts one per cloud behind one; platforms.py picks the host's.
import json
import os

# The drain reason of a host its platform takes away (AWS scale-in, a GCE mark), as drain.json
# says it.
TERMINATION = "termination notice"


def agent_endpoints(config):
    """The platform's endpoints; AVFLEET_AGENT_ENDPOINTS overrides them (the host rehearsal)."""
    endpoints = dict(config.get("endpoints", {}))
    endpoints.update(json.loads(os.environ.get("AVFLEET_AGENT_ENDPOINTS", "{}")))
    return endpoints


class CloudInstanceManager:
    """One host's dealings with its platform. What a platform does not have answers as if done:
    nobody to publish the load to, no notice, no hook to beat or complete."""

    def __init__(self, config, endpoints):
        self.config = config
        self.endpoints = endpoints
        # The calls this host expects to still hold at its drain limit (None: unknown), which
        # publish() carries beside the load where the platform's scale-in picks by it.
        self.expected_left = None
        # The reason of the drain this host runs (drain.json's), None while it serves.
        self.draining = None

    def publish(self, streams):
        """True once the platform's autoscaler can read `streams` as this host's load."""
        return True

    def autoscaler_load(self, streams):
        """The load the autoscaler reads of this host: a draining host takes no joins yet holds
        its place in the group, so it shows at least the per-host target (config metric.target):
        one full host, never room to spare."""
        if self.draining is None:
            return streams
        return max(streams, self.config["metric"]["target"])

    def count(self, exposition):
        """Publishes the pool's alarm counters from `exposition()`, the host's /metrics text."""
        return None

    def whereami(self):
        """(host name, zone or None), or None while the platform does not say."""
        raise NotImplementedError

    def release(self):
        """The release this host was made from, or None."""
        return None

    def termination_notice(self):
        """Whether the platform wants this host gone (the agent then drains it)."""
        return False

    def cordoned(self):
        """Whether the platform keeps this host out of rotation: no new joins, its calls kept."""
        return False

    def heartbeat(self):
        """Tells the platform the drain goes on; True once it heard."""
        return True

    def protect(self, left, budget, draining=False):
        """Keeps the platform's scale-in off this host while `left` calls (None: no reading) are
        expected at the drain limit over the per-host cut `budget`, or lets it pick the host;
        `draining`: the host drains, open to scale-in at once."""
        return None

    def launch(self, ready):
        """Tells the platform the host serves (`ready`) or still comes up; True once done."""
        return True

    def complete(self, sessions):
        """Tells the platform the drain is done, `sessions` (None: unknown) left; True once it heard."""
        return True
