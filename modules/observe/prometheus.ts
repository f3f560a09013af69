/**
 * A bare-metal site's Prometheus: where the site's hosts are (a file_sd targets file from its
 * inventory) and a prometheus.yml that scrapes their agents, loads the rules `avfleet observe
 * render` writes and sends what fires to the site's Alertmanager (alertmanager.ts). Fields as
 * Prometheus takes them (https://prometheus.io/docs/prometheus/latest/configuration/configuration/);
 * relative paths in a configuration file are read from its directory.
 */
import { stringify } from "yaml";
import type { InventoryHost } from "../inventory/inventory";
import type { LoadedStack } from "../stacks/stack";
import { hostScrapeJob } from "../host/scrape";

export interface PrometheusOptions {
  /** How often the agents are scraped (default 15s); a rehearsal shortens it. */
  scrapeInterval?: string;
  /** How often the rules are evaluated (default 1m, Prometheus' own); a rehearsal shortens it. */
  evaluationInterval?: string;
  /**
   * The site's Alertmanager, host:port (default 127.0.0.1:9093: Alertmanager's own port, on the
   * Prometheus host, where alertmanager.yml's key files are).
   */
  alertmanager?: string;
}

/** A bare-metal site as its Prometheus sees it. */
export interface PrometheusSite {
  stack: string;
  pool: string;
  region: string;
  site: string;
  /** The agent's port (the health port, where it serves /metrics). */
  port: number;
  hosts: Pick<InventoryHost, "name" | "privateIp" | "state">[];
  /** Whether the stack has an Alertmanager to send to (alerting.notify). */
  alerting: boolean;
}

export const prometheusFile = (stack: string) => `prometheus/${stack}.yml`;
/** Beside the configuration, which names it by its base name. */
export const targetsFile = (stack: string) => `prometheus/${stack}.targets.json`;

/** Every bare-metal stack with its inventory. */
export function prometheusSites(stacks: LoadedStack[]): PrometheusSite[] {
  return stacks.flatMap((s) =>
    s.fleet?.kind === "metal" && s.inventory
      ? [
          {
            stack: s.name,
            pool: s.fleet.pool,
            region: s.fleet.mediaRegion,
            site: s.inventory.site,
            port: s.fleet.ports.health.port,
            hosts: s.inventory.hosts,
            alerting: !!s.fleet.alerting,
          },
        ]
      : [],
  );
}

/**
 * The file_sd targets: every host that is not retired, at its private address (the site's own
 * network; the agent answers on every address), labelled with what the rules and the rollout
 * read (TARGET_LABELS and the site). A draining host is scraped too: its drain and its last
 * calls are what is watched.
 */
export function siteTargets(site: PrometheusSite) {
  return [
    {
      targets: site.hosts
        .filter((h) => h.state !== "retired")
        .map((h) => `${h.privateIp}:${site.port}`),
      labels: { pool: site.pool, region: site.region, site: site.site },
    },
  ];
}

/**
 * prometheus.yml for one site, written at prometheusFile(stack) beside its targets file, the
 * rules one level up.
 */
export function renderPrometheus(
  site: PrometheusSite,
  rulesFile: string,
  options: PrometheusOptions = {},
): string {
  const targets = targetsFile(site.stack).split("/").pop()!;
  const config = {
    global: { evaluation_interval: options.evaluationInterval ?? "1m" },
    rule_files: [`../${rulesFile}`],
    ...(site.alerting
      ? {
          alerting: {
            alertmanagers: [
              { static_configs: [{ targets: [options.alertmanager ?? "127.0.0.1:9093"] }] },
            ],
          },
        }
      : {}),
    scrape_configs: [
      hostScrapeJob({ file_sd_configs: [{ files: [targets] }] }, options.scrapeInterval ?? "15s"),
    ],
  };
  return stringify(config, { lineWidth: 0 });
}
