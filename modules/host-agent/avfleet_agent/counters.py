# avfleet-agent: the host's counters, the parse and lines of modules/host-series/exporter.ts, held equal
# by its test.
import re
import subprocess
import threading
import time

from .common import label_text, number, sample_value

CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


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

