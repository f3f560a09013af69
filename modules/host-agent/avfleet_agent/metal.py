# avfleet-agent: a bare-metal host's adapter: Prometheus scrapes /metrics, the inventory's
# `draining` writes the request, and no platform waits on a hook.
import os
import socket
import time

from .cloud import CloudInstanceManager
from .common import under_root


class Metal(CloudInstanceManager):
    """Bare metal: Prometheus scrapes /metrics; the inventory's `draining` writes the request."""

    def __init__(self, config, endpoints):
        super().__init__(config, endpoints)
        self.state_dir = under_root(config["stateDir"])
        self.host_dir = under_root(config["hostDir"])

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

    def complete(self, sessions):
        with open(os.path.join(self.state_dir, "drained"), "w") as marker:
            marker.write(f"{int(time.time())}\n")
        return True
