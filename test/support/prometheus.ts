/**
 * A real Prometheus (Debian's) on 127.0.0.1 for live tests and benches: scrape jobs on loopback
 * targets, rules loaded if given, everything at 1 s. Killed and removed by `stop`. Other
 * daemons start the same way (startDaemon).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

export function close(server: Server): void {
  server.closeAllConnections();
  server.close();
}

/** Serves `render()` on every path of an ephemeral loopback port. */
export async function serveText(render: () => string): Promise<{ server: Server; port: number }> {
  const server = createServer((_, res) => {
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    res.end(render());
  });
  return { server, port: await listen(server) };
}

export async function poll<T>(what: string, seconds: number, probe: () => Promise<T | undefined>) {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what}: not within ${seconds} s`);
}

export interface RunningPrometheus {
  url: string;
  stop(): Promise<void>;
  log(): string;
}

/**
 * Starts `command` with `args(port)` on a free loopback port, its stderr logged in `dir`, and
 * waits until `ready` answers; `stop` kills it and removes `dir`.
 */
export async function startDaemon(
  command: string,
  dir: string,
  args: (port: number) => string[],
  ready: (url: string) => Promise<true | undefined>,
): Promise<RunningPrometheus> {
  const probe = createServer();
  const port = await listen(probe);
  close(probe);
  const log = join(dir, "stderr.log");
  writeFileSync(log, "");
  const child = spawn(command, args(port), { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr.on("data", (chunk) => writeFileSync(log, chunk, { flag: "a" }));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const url = `http://127.0.0.1:${port}`;
  const running = {
    url,
    log: () => readFileSync(log, "utf8"),
    async stop() {
      child.kill("SIGKILL");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await poll(`${command} ready`, 30, () => ready(url));
  } catch (err) {
    const said = running.log();
    await running.stop();
    throw new Error(`${(err as Error).message}; ${command} said: ${said}`);
  }
  return running;
}

/** Prometheus scraping each job's loopback ports, with `rules` loaded when given. */
export async function startPrometheus(
  jobs: Record<string, number[]>,
  rules?: string,
): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), "observe-prometheus-"));
  if (rules !== undefined) writeFileSync(join(dir, "rules.yml"), rules);
  writeFileSync(
    join(dir, "prometheus.yml"),
    [
      "global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }",
      ...(rules !== undefined ? ["rule_files: [rules.yml]"] : []),
      "scrape_configs:",
      ...Object.entries(jobs).map(
        ([job, ports]) =>
          `  - { job_name: ${job}, static_configs: [{ targets: [${ports.map((p) => `"127.0.0.1:${p}"`).join(", ")}] }] }`,
      ),
      "",
    ].join("\n"),
  );
  // ready once it scrapes every job
  return startDaemon(
    "prometheus",
    dir,
    (port) => [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    async (url) => {
      const r = (await (await fetch(`${url}/api/v1/query?query=up`)).json()) as any;
      const up = r.data.result.filter((s: any) => s.value[1] === "1").length;
      return up === Object.values(jobs).flat().length ? true : undefined;
    },
  );
}

export interface ActiveAlert {
  labels: Record<string, string>;
  state: "pending" | "firing";
  activeAt: string;
}

export async function alerts(url: string): Promise<ActiveAlert[]> {
  const body = (await (await fetch(`${url}/api/v1/alerts`)).json()) as any;
  return body.data.alerts;
}
