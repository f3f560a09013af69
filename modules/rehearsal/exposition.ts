/**
 * The rehearsal world's metrics in Prometheus' text exposition format (0.0.4), served on a
 * loopback port: what a Prometheus scrape of the fleet would see, for the gates issue to query.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  ACTIVE_SESSIONS,
  HEALTHY_HOSTS,
  MAX_HOSTS,
  SLO_NAMES,
  SLOS,
  TRAFFIC_WEIGHT,
} from "../gates/slo";
import { currentWeights, labelledSessions, type WorldState } from "./world";
import { sessionExposition } from "../gates/world-sessions";

/** Pure: the world's latest minute as exposition text, one gauge family per metric. */
export function renderExposition(state: WorldState): string {
  const last = state.minutes[state.minutes.length - 1];
  const weights = currentWeights(state);
  const families: [string, string, (pool: string) => number | undefined][] = [
    [
      ACTIVE_SESSIONS,
      "Media sessions in progress on the pool.",
      (p) => Math.round(last.sessions[p] ?? 0),
    ],
    [HEALTHY_HOSTS, "Hosts passing their health check.", (p) => state.hosts[p]?.healthy],
    [MAX_HOSTS, "The pool's host ceiling (maxHosts).", (p) => state.stacks[p]?.outputs?.maxHosts],
    [TRAFFIC_WEIGHT, "Weighted-DNS weight of the pool, 0-100.", (p) => weights[p]],
    ...SLO_NAMES.map((name) => SLOS[name]).map(
      (slo, i) =>
        [
          slo.metric,
          `SLO ${slo.summary} (per-minute value).`,
          (p: string) => last.quality[p]?.[i],
        ] as [string, string, (pool: string) => number | undefined],
    ),
  ];
  const lines: string[] = [];
  for (const [name, help, value] of families) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const pool of state.pools) {
      const v = value(pool);
      if (v !== undefined)
        lines.push(`${name}{pool="${state.labels[pool]}",region="${state.region}"} ${v}`);
    }
  }
  // Per-session histograms: what relative gates query, as they would query the fleet.
  lines.push(...sessionExposition(labelledSessions(state)));
  // Samples carry no timestamps (Prometheus would refuse the simulated clock's as out of
  // bounds); the world's time is a gauge of its own.
  lines.push(
    "# HELP avfleet_world_time_seconds The rehearsal world's simulated time.",
    "# TYPE avfleet_world_time_seconds gauge",
    `avfleet_world_time_seconds ${last.t / 1000}`,
  );
  return `${lines.join("\n")}\n`;
}

/** Serves `/metrics` on 127.0.0.1:`port` (0: any free port); resolves with the server and port. */
export async function serveExposition(
  state: () => WorldState,
  port: number,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end("not found: try /metrics\n");
      return;
    }
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    res.end(renderExposition(state()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return { server, port: (server.address() as AddressInfo).port };
}
