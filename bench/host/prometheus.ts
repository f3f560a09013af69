/**
 * The bare-metal host's site Prometheus in the host rehearsal: Debian's Prometheus runs the
 * prometheus.yml and targets file `avfleet observe render` writes for the host's site, scrapes
 * the host's agent in its network namespace, evaluates the rendered rules and sends what fires to
 * Debian's Alertmanager running the site's rendered alertmanager.yml, which posts the page to a
 * webhook. What differs from the site, and why:
 *   - the targets file keeps one host of the inventory, its address rewritten to the namespace's
 *     veth address: the inventory's private address is nobody here, and the other hosts are not
 *     in the rehearsal (they would be down, and say so);
 *   - the rules run 60 times faster (renderRules' scale) and the scrape and evaluation every
 *     second (the render's intervals), the Alertmanager's first wait 1 s: minutes of real time
 *     would be the rehearsal's;
 *   - the receivers are webhooks on loopback (the site pages PagerDuty with a key on its host),
 *     and the Alertmanager listens on a free port, which the render is told.
 * The page: the kernel drops UDP datagrams on the host (a socket that reads nothing, flooded),
 * which the agent counts from the namespace's /proc/net/snmp: AvfleetHostUdpReceiveBufferDrops.
 */
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { listStacks, loadStacks } from "../../modules/stacks/stack";
import { renderAlertmanager } from "../../modules/observe/alertmanager";
import {
  prometheusFile,
  prometheusSites,
  siteTargets,
  targetsFile,
} from "../../modules/observe/prometheus";
import { observeFiles } from "../../modules/observe/render";
import { HEALTHY_HOSTS } from "../../modules/gates/slo";
import { HOST_METRICS } from "../../modules/observe/spec";
import { startAlertmanager, startWebhook } from "../../test/support/alertmanager";
import { poll, startDaemon } from "../../test/support/prometheus";

const STACKS = join(__dirname, "../../stacks");
/** How much faster than the site the rules run here. */
export const RULE_SPEEDUP = 60;
/** A port of the media range, where the tuning's nftables rules let datagrams in. */
const FLOOD_PORT = 40000;

export interface SiteScrape {
  /** The target the rehearsal kept, and the address it was rewritten to. */
  rewritten: { host: string; from: string; to: string };
  /** avfleet_healthy_hosts{pool=<the site's pool>}: its value and labels, as Prometheus answers. */
  healthy?: { value: string; labels: Record<string, string> };
  /** A host counter's labels (UDP datagrams received), as Prometheus stored them. */
  hostSeries?: Record<string, string>;
  /** The page the webhook got: receiver, alert name and the alert's labels. */
  page?: { receiver: string; alertname: string; labels: Record<string, string> };
}

async function query(url: string, promql: string) {
  const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await r.json()) as {
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  return body.data.result;
}

/** A UDP socket in the namespace that never reads, its receive buffer as small as it gets. */
function deafSocket(ns: string) {
  const child = spawn(
    "ip",
    [
      "netns",
      "exec",
      ns,
      "python3",
      "-c",
      `import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)\ns.bind(("0.0.0.0", ${FLOOD_PORT}))\nprint("bound", flush=True)\ntime.sleep(300)`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const bound = new Promise<void>((resolve, reject) => {
    child.stdout.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`the deaf socket exited ${code}`)));
  });
  return { bound, stop: () => child.kill("SIGKILL") };
}

/** The site's Prometheus and Alertmanager on the rehearsal's metal host, of pool `pool`. */
export async function siteScrape(pool: string, ns: string, nsIp: string): Promise<SiteScrape> {
  const site = prometheusSites(loadStacks(STACKS, listStacks(STACKS))).find(
    (s) => s.pool === pool,
  )!;
  const { stack } = site;
  const hook = await startWebhook();
  const am = await startAlertmanager(
    renderAlertmanager(
      site.pool,
      {
        page: { webhook: { url: hook.url("/page") } },
        ticket: { webhook: { url: hook.url("/ticket") } },
      },
      { groupWait: "1s" },
    ),
  );
  const dir = mkdtempSync(join(tmpdir(), "site-prometheus-"));
  const { files } = observeFiles(
    [],
    {
      scale: RULE_SPEEDUP,
      scrapeInterval: "1s",
      evaluationInterval: "1s",
      alertmanager: new URL(am.url).host,
    },
    [],
    [site],
  );
  for (const f of files) {
    mkdirSync(dirname(join(dir, f.path)), { recursive: true });
    writeFileSync(join(dir, f.path), f.text);
  }
  const [group] = siteTargets(site);
  const kept = site.hosts.find((h) => h.state === "active")!;
  const rewritten = {
    host: kept.name,
    from: `${kept.privateIp}:${site.port}`,
    to: `${nsIp}:${site.port}`,
  };
  if (!group.targets.includes(rewritten.from)) throw new Error(`${rewritten.from}: not a target`);
  writeFileSync(
    join(dir, targetsFile(stack)),
    `${JSON.stringify([{ ...group, targets: [rewritten.to] }], null, 2)}\n`,
  );
  const deaf = deafSocket(ns);
  const flood = createSocket("udp4");
  let flooding: NodeJS.Timeout | undefined;
  const prometheus = await startDaemon(
    "prometheus",
    dir,
    (port) => [
      `--config.file=${join(dir, prometheusFile(stack))}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    async (url) => ((await query(url, "up == 1")).length === 1 ? true : undefined),
  );
  try {
    const result: SiteScrape = { rewritten };
    const [healthy] = await query(prometheus.url, `${HEALTHY_HOSTS}{pool="${site.pool}"}`);
    if (healthy) result.healthy = { value: healthy.value[1], labels: healthy.metric };
    const [series] = await query(
      prometheus.url,
      `${HOST_METRICS.inDatagrams}{pool="${site.pool}"}`,
    );
    result.hostSeries = series?.metric;

    await deaf.bound;
    const datagram = Buffer.alloc(1000);
    flooding = setInterval(() => {
      for (let i = 0; i < 50; i++) flood.send(datagram, FLOOD_PORT, nsIp);
    }, 5);
    // Other pages may come first: the stand-in SFU fails a third of its joins on purpose, which
    // burns the join-success budget of the site's rules too.
    const drops = (d: (typeof hook.deliveries)[number]) =>
      d.body.alerts.find((a) => a.labels.alertname === "AvfleetHostUdpReceiveBufferDrops");
    const delivery = await poll("the drops page at the webhook", 60, async () =>
      hook.deliveries.find((d) => d.path === "/page" && drops(d)),
    );
    const alert = drops(delivery)!;
    result.page = {
      receiver: delivery.body.receiver,
      alertname: alert.labels.alertname,
      labels: alert.labels,
    };
    return result;
  } finally {
    clearInterval(flooding);
    flood.close();
    deaf.stop();
    await prometheus.stop();
    await am.stop();
    hook.close();
  }
}
