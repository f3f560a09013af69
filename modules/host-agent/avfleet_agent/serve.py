# avfleet-agent: the health port: the addresses it listens on, and the HTTP around the agent's
# answers (health paths, /metrics).
import http.server
import ipaddress
import socket
import threading


def serve(agent):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            answer = agent.answer(self.path)
            if answer is not None:
                status, text = answer
                content_type = "text/plain"
            elif self.path == "/metrics":
                status, text = 200, agent.metrics()
                content_type = "text/plain; version=0.0.4"
            else:
                status, text, content_type = 404, "not found", "text/plain"
            body = (text + "\n").encode() if not text.endswith("\n") else text.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    for address in listen_addresses(agent.config["health"]):
        server = http.server.ThreadingHTTPServer((address, agent.config["health"]["port"]), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()


# RFC 1918, as the inventory's privateIp is (modules/inputs/net.ts).
PRIVATE_V4 = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


def listen_addresses(health):
    """Every address ("") where a cloud's firewall guards the port. Where nothing in front does
    (bare metal), the host's own private address the kernel routes the admin and monitoring
    networks from (a UDP connect sends nothing), and loopback; never a public one: an agent that
    finds no private route refuses to serve rather than serve the Internet."""
    if "via" not in health:
        return [""]
    found = []
    for cidr in health["via"]:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect((cidr.split("/")[0], 9))
            address = probe.getsockname()[0]
        except OSError:
            continue
        finally:
            probe.close()
        if any(ipaddress.ip_address(address) in net for net in PRIVATE_V4) and address not in found:
            found.append(address)
    if not found:
        raise SystemExit(
            f"avfleet-agent: no private address routes to {', '.join(health['via'])}: not serving on a public one"
        )
    return [*found, "127.0.0.1"]
