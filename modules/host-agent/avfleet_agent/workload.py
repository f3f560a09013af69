# avfleet-agent: the media server's contract, as its admin port answers it.
import json

from . import common



class Workload:
    def __init__(self, config):
        self.base = f"http://127.0.0.1:{config['adminPort']}"
        self.config = config

    def health_status(self):
        """The HTTP status of the server's own health endpoint; 0 when it does not answer."""
        return common.call_api("GET", self.base + self.config["healthPath"], timeout=2)[0]

    def stats(self):
        """{sessions, streams, packetsPerSecond}, or None when the server does not answer."""
        status, body = common.call_api("GET", self.base + self.config["statsPath"], timeout=2)
        if status != 200:
            return None
        try:
            stats = json.loads(body)
            return {k: int(stats[k]) for k in ("sessions", "streams")}
        except (ValueError, KeyError, TypeError):
            return None

    def drain(self):
        status = common.call_api("POST", self.base + self.config["drainPath"], body=b"", timeout=2)[0]
        return status in (200, 202, 204)

