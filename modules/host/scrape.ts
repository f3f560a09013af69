/**
 * How a Prometheus scraper reads a host agent: its job (the alerts' `up{job=…}`), the path the
 * agent serves its series on, and the one scrape job every scraper of it renders — the Ops Agent
 * on a GCP host (ops-agent.ts), a bare-metal site's Prometheus (modules/observe/prometheus.ts).
 * Fields as Prometheus' <scrape_config> (https://prometheus.io/docs/prometheus/latest/configuration/configuration/#scrape_config).
 */

/** The scrape job of host agents; its `up` says whether an agent answers. */
export const HOST_JOB = "avfleet-host";

/** The agent serves its series here, on the health port (host-agent, serve.py). */
export const METRICS_PATH = "/metrics";

/** Every series the agent serves that avfleet reads: its own, the exporter's, the serving gauges. */
export const AGENT_SERIES = "avfleet_.*";

/** Where a scrape job finds its targets: Prometheus' static_configs or file_sd_configs. */
export type TargetDiscovery =
  | { static_configs: { targets: string[]; labels?: Record<string, string> }[] }
  | { file_sd_configs: { files: string[]; refresh_interval?: string }[] };

/**
 * The labels every scraper puts on its agent targets, which the agent serves too (both from the
 * fleet spec: its pool and media region): on the target they reach `up`, which the alert on a
 * silent agent selects by pool.
 */
export const TARGET_LABELS = ["pool", "region"] as const;

/**
 * The host agents' scrape job. Only `avfleet_*` series are kept: a media server's package or a
 * textfile may add others, and Managed Service for Prometheus bills every sample it ingests.
 * A target label the scraped series carry too renames theirs to `exported_<name>` (the Ops
 * Agent refuses honor_labels, which would keep them): the target's value is the same one, so
 * the renamed copy is dropped.
 */
export function hostScrapeJob(discovery: TargetDiscovery, interval: string) {
  return {
    job_name: HOST_JOB,
    scrape_interval: interval,
    metrics_path: METRICS_PATH,
    ...discovery,
    metric_relabel_configs: [
      { source_labels: ["__name__"], regex: AGENT_SERIES, action: "keep" },
      { regex: `exported_(${TARGET_LABELS.join("|")})`, action: "labeldrop" },
    ],
  };
}
