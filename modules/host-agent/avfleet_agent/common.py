# avfleet-agent: what every part of the agent shares: the host's root, its log, and its one way
# out to the network (call_api), which tests and the lifecycle probe replace on this module.
import datetime
import os
import sys
import urllib.error
import urllib.request

ROOT = os.environ.get("AVFLEET_ROOT", "")


def log(message):
    print(f"avfleet-agent: {message}", file=sys.stderr, flush=True)


def under_root(path):
    return ROOT + path


def call_api(method, url, headers=None, body=None, timeout=5):
    """(status, bytes); a network failure is status 0."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (OSError, ValueError) as error:
        log(f"{method} {url}: {error}")
        return 0, b""


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)



def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def sample_value(value):
    # As JavaScript prints it: 15, not 15.0.
    return str(int(value)) if float(value).is_integer() else repr(value)


def label_text(labels):
    def escape(value):
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    body = ",".join(f'{k}="{escape(v)}"' for k, v in labels.items())
    return "{" + body + "}" if body else ""

