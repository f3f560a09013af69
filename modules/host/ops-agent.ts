/**
 * GCP: Google's Ops Agent sends the host agent's series to Google Cloud Managed Service for
 * Prometheus, where the pool's alert policies (modules/alerting/cloud.ts) query them in PromQL.
 * Its Prometheus receiver scrapes the agent on loopback; the bootstrap installs it from Google's
 * apt repository (pure renders here, bootstrap.ts carries them).
 * https://cloud.google.com/stackdriver/docs/solutions/agents/ops-agent/prometheus
 */
import { stringify } from "yaml";
import type { FleetSpec } from "../config/fleet.schema";
import { hostScrapeJob } from "./scrape";

export const OPS_AGENT_PACKAGE = "google-cloud-ops-agent";
export const OPS_AGENT_CONFIG_PATH = "/etc/google-cloud-ops-agent/config.yaml";
export const OPS_AGENT_SOURCE_PATH = "/etc/apt/sources.list.d/google-cloud-ops-agent.sources";
/**
 * Where the bootstrap writes Google's source with the other files: apt does not read it there.
 * The install step puts it in sources.list.d only once its Signed-By key is on disk: apt
 * refuses a source whose key file is missing ("The repository … is not signed", exit 100), and
 * the workload's own `apt-get update`, earlier in the bootstrap, would fail with it.
 */
export const OPS_AGENT_SOURCE_STAGED = "/etc/avfleet/apt/google-cloud-ops-agent.sources";
export const OPS_AGENT_KEY_PATH = "/etc/apt/keyrings/google-cloud-ops-agent.asc";
/**
 * Google signs its apt repositories with this key; its own add-google-cloud-ops-agent-repo.sh
 * fetches it from here over HTTPS at install time (https://dl.google.com/cloudagents/add-google-cloud-ops-agent-repo.sh).
 */
export const GOOGLE_APT_KEY_URL = "https://packages.cloud.google.com/apt/doc/apt-key.gpg";

/**
 * The major version the hosts run: Google publishes one repository per Debian release and major
 * version, `google-cloud-ops-agent-<codename>-<major>` (REPO_SUFFIX in Google's script), so a
 * new major (a breaking change) never arrives by itself.
 */
export const OPS_AGENT_MAJOR = 2;
/** The Debian release of the fleet's image (debian-12: fleet.schema's default image family). */
export const OPS_AGENT_CODENAME = "bookworm";

export const OPS_AGENT_APT = {
  uri: "https://packages.cloud.google.com/apt",
  suite: `google-cloud-ops-agent-${OPS_AGENT_CODENAME}-${OPS_AGENT_MAJOR}`,
  components: ["main"],
};

/**
 * As a site's Prometheus scrapes: the outage page's short window is 1 minute, and rate() needs
 * two samples in its window (https://prometheus.io/docs/prometheus/latest/querying/functions/#rate):
 * at 60 s a 1-minute window holds one and the page could never fire. Every sample is billed;
 * the Ops Agent raises anything under 10 s to 10 s (its confgenerator prometheus.go,
 * minScrapeInterval).
 */
export const OPS_AGENT_SCRAPE_INTERVAL = "15s";

/** The receiver's and pipeline's name in the Ops Agent's configuration. */
const RECEIVER = "avfleet";

/**
 * /etc/google-cloud-ops-agent/config.yaml: one prometheus receiver in its own metrics pipeline,
 * merged with the agent's built-in configuration. The receiver takes static_configs only and
 * refuses honor_labels (confgenerator prometheus.go, validatePrometheus); the agent's own labels
 * (host, pool, zone, region, release) pass as they are, none of them one of the labels
 * prometheus_target reserves (project_id, location, cluster, namespace, job, instance). The
 * target carries TARGET_LABELS, so `up` has the pool.
 */
export function opsAgentConfig(spec: FleetSpec): string {
  const scrape = hostScrapeJob(
    {
      static_configs: [
        {
          targets: [`127.0.0.1:${spec.ports.health.port}`],
          labels: { pool: spec.pool, region: spec.mediaRegion },
        },
      ],
    },
    OPS_AGENT_SCRAPE_INTERVAL,
  );
  const config = {
    metrics: {
      receivers: { [RECEIVER]: { type: "prometheus", config: { scrape_configs: [scrape] } } },
      service: { pipelines: { [RECEIVER]: { receivers: [RECEIVER] } } },
    },
  };
  return `# rendered by avfleet (modules/host/ops-agent.ts)\n${stringify(config, { lineWidth: 0 })}`;
}

/**
 * The bootstrap's last step, once the host serves: the Ops Agent installed when it is missing.
 * Alerting needs it, serving calls does not, so a failure (no route to Google, a changed key)
 * leaves the host serving, says so on the startup-script's output, and the next boot tries again:
 * failing the bootstrap would keep the media server from starting, and the autohealer would
 * recreate a VM that cannot reach Google again and again. Google's key is fetched over HTTPS
 * once and kept; apt trusts it for this source only (Signed-By), not every source as Google's
 * script does (apt-key add). Its config is in place before the install, which starts the agent.
 * `w` is the bootstrap's retry of apt's lock (installStep).
 */
export function opsAgentInstall(aptWait: string): string[] {
  const key = `"$ROOT${OPS_AGENT_KEY_PATH}"`;
  return [
    `if ! dpkg-query -W -f='\${Status}' ${OPS_AGENT_PACKAGE} 2>/dev/null | grep -q 'ok installed'; then`,
    `  if (. /etc/os-release && [ "$VERSION_CODENAME" = ${OPS_AGENT_CODENAME} ]) &&`,
    // apt reads an armored key only from a .asc file (sources.list(5), Signed-By): a key served
    // in another form is refused here rather than by apt on every update.
    `    { [ -s ${key} ] || { mkdir -p "$(dirname ${key})" && curl -fsS --proto =https --connect-timeout 10 --max-time 60 -o ${key}.new ${GOOGLE_APT_KEY_URL} && grep -q '^-----BEGIN PGP PUBLIC KEY BLOCK-----' ${key}.new && mv -f ${key}.new ${key}; }; } &&`,
    `    install -D -m 0644 "$ROOT${OPS_AGENT_SOURCE_STAGED}" "$ROOT${OPS_AGENT_SOURCE_PATH}" &&`,
    `    w apt-get ${aptWait} update -qq &&`,
    `    apt-get ${aptWait} install -y -qq --no-install-recommends ${OPS_AGENT_PACKAGE}; then :`,
    `  else echo "avfleet-bootstrap: ${OPS_AGENT_PACKAGE} is not installed: this host's series do not reach Cloud Monitoring, its alerts see nothing (the next boot tries again)" >&2; fi`,
    "fi",
  ];
}
