/**
 * Debian's Alertmanager (prometheus-alertmanager 0.25) for live tests and benches: one
 * instance on a free loopback port with its own storage and no cluster, amtool's answer
 * to where a set of labels is routed, and a webhook receiver that keeps what it is sent.
 * Killed and removed by `stop`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { close, listen, startDaemon, type RunningPrometheus } from "./prometheus";

export const ALERTMANAGER = "prometheus-alertmanager";

export async function startAlertmanager(config: string): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), "notify-alertmanager-"));
  writeFileSync(join(dir, "alertmanager.yml"), config);
  return startDaemon(
    ALERTMANAGER,
    dir,
    (port) => [
      `--config.file=${join(dir, "alertmanager.yml")}`,
      `--storage.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // an empty address turns the gossip cluster off: one instance, no peers to wait for
      "--cluster.listen-address=",
    ],
    async (url) => ((await fetch(`${url}/-/ready`)).ok ? true : undefined),
  );
}

/** The receiver(s) `amtool config routes test` routes these labels to, in the config file. */
export function routesOf(configFile: string, labels: Record<string, string>): string[] {
  const r = spawnSync(
    "amtool",
    [
      "config",
      "routes",
      "test",
      `--config.file=${configFile}`,
      ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`amtool config routes test: ${r.stderr}`);
  return r.stdout.trim().split(",").filter(Boolean);
}

/** What Alertmanager's webhook integration posted (its JSON body), and where. */
export interface Delivery {
  path: string;
  authorization?: string;
  body: {
    receiver: string;
    status: string;
    alerts: { labels: Record<string, string>; status: string }[];
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text;
}

/** A webhook receiver on a free loopback port: `url(path)` to put in a receiver. */
export async function startWebhook() {
  const deliveries: Delivery[] = [];
  const server = createServer(async (req, res) => {
    deliveries.push({
      path: req.url ?? "",
      authorization: req.headers.authorization,
      body: JSON.parse(await readBody(req)),
    });
    res.end();
  });
  const port = await listen(server);
  return {
    deliveries,
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    close: () => close(server),
  };
}
