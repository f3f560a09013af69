/**
 * A small supervisor for the host rehearsal, because systemd is not PID 1 on this machine.
 * It honours what the rendered units rely on: Requires=/After= ordering, Type=oneshot vs
 * simple, ExecStartPre= (a failure means no start), Environment= (units and drop-ins),
 * Restart=always|on-failure with RestartSec=, and stop with KillSignal= then SIGKILL after
 * TimeoutStopSec=. Processes run in the host's network namespace; absolute paths on the
 * command line that exist under the host's root resolve there (a chroot without chroot).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface Unit {
  name: string;
  requires: string[];
  after: string[];
  type: string;
  execStartPre: string[];
  execStart: string;
  restart: string;
  restartSec: number;
  killSignal: NodeJS.Signals;
  timeoutStopSec: number;
  env: Record<string, string>;
}

function parseUnit(root: string, name: string): Unit {
  const dir = join(root, "etc/systemd/system");
  const dropins = existsSync(join(dir, `${name}.d`))
    ? readdirSync(join(dir, `${name}.d`))
        .filter((f) => f.endsWith(".conf"))
        .sort()
        .map((f) => join(dir, `${name}.d`, f))
    : [];
  const values = new Map<string, string[]>();
  for (const file of [join(dir, name), ...dropins]) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
      if (m) values.set(m[1], [...(values.get(m[1]) ?? []), m[2]]);
    }
  }
  const one = (key: string, fallback: string) => values.get(key)?.at(-1) ?? fallback;
  const words = (key: string) =>
    (values.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean);
  const env: Record<string, string> = {};
  for (const assignment of words("Environment")) {
    const [k, ...v] = assignment.split("=");
    env[k] = v.join("=");
  }
  return {
    name,
    requires: words("Requires"),
    after: words("After"),
    type: one("Type", "simple"),
    execStartPre: values.get("ExecStartPre") ?? [],
    execStart: one("ExecStart", ""),
    restart: one("Restart", "no"),
    restartSec: Number(one("RestartSec", "0.1")),
    killSignal: one("KillSignal", "SIGTERM") as NodeJS.Signals,
    timeoutStopSec: Number(one("TimeoutStopSec", "90")),
    env,
  };
}

export interface UnitEvent {
  unit: string;
  event: "started" | "exited" | "restarted" | "stopped";
  at: number;
  code?: number | null;
  signal?: string | null;
}

export class Supervisor {
  readonly events: UnitEvent[] = [];
  private readonly running = new Map<string, ChildProcess>();
  private readonly units = new Map<string, Unit>();
  private stopping = false;

  constructor(
    private readonly root: string,
    private readonly netns: string,
  ) {}

  private argv(command: string): string[] {
    return command
      .split(/\s+/)
      .filter(Boolean)
      .map((w) => (w.startsWith("/") && existsSync(join(this.root, w)) ? join(this.root, w) : w));
  }

  private env(unit: Unit): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH, ...unit.env };
  }

  /** Starts `names` and what they require, each after the units it is ordered after. */
  async start(names: string[]): Promise<void> {
    const order: string[] = [];
    const visit = (name: string) => {
      if (order.includes(name)) return;
      const unit = this.units.get(name) ?? parseUnit(this.root, name);
      this.units.set(name, unit);
      for (const dep of unit.requires) visit(dep);
      for (const dep of unit.after)
        if (names.includes(dep) || unit.requires.includes(dep)) visit(dep);
      order.push(name);
    };
    names.forEach(visit);
    for (const name of order)
      if (!this.running.has(name)) await this.startUnit(this.units.get(name)!);
  }

  private async startUnit(unit: Unit): Promise<void> {
    for (const pre of unit.execStartPre) {
      const r = spawnSync("ip", ["netns", "exec", this.netns, ...this.argv(pre)], {
        env: this.env(unit),
        encoding: "utf8",
      });
      if (r.status !== 0) throw new Error(`${unit.name}: ExecStartPre ${pre} failed: ${r.stderr}`);
    }
    if (unit.type === "oneshot") {
      const r = spawnSync("ip", ["netns", "exec", this.netns, ...this.argv(unit.execStart)], {
        env: this.env(unit),
        encoding: "utf8",
      });
      this.events.push({ unit: unit.name, event: "exited", at: Date.now(), code: r.status });
      if (r.status !== 0)
        throw new Error(`${unit.name}: ${unit.execStart} failed: ${r.stdout}${r.stderr}`);
      return;
    }
    const child = spawn("ip", ["netns", "exec", this.netns, ...this.argv(unit.execStart)], {
      env: this.env(unit),
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr!.on("data", (d: Buffer) => {
      if (process.env.AVFLEET_REHEARSAL_VERBOSE) process.stderr.write(`[${unit.name}] ${d}`);
    });
    this.running.set(unit.name, child);
    this.events.push({ unit: unit.name, event: "started", at: Date.now() });
    child.on("exit", (code, signal) => {
      this.running.delete(unit.name);
      this.events.push({ unit: unit.name, event: "exited", at: Date.now(), code, signal });
      const failed = code !== 0 || signal !== null;
      const again = unit.restart === "always" || (unit.restart === "on-failure" && failed);
      if (again && !this.stopping) {
        setTimeout(() => {
          if (this.stopping) return;
          this.events.push({ unit: unit.name, event: "restarted", at: Date.now() });
          void this.startUnit(unit);
        }, unit.restartSec * 1000);
      }
    });
  }

  pid(name: string): number | undefined {
    return this.running.get(name)?.pid;
  }

  /** Stops every unit in reverse start order: KillSignal, then SIGKILL after TimeoutStopSec. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    const started = this.events.filter((e) => e.event === "started").map((e) => e.unit);
    for (const name of [...new Set(started)].reverse()) {
      const child = this.running.get(name);
      if (!child) continue;
      const unit = this.units.get(name)!;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill(unit.killSignal);
      const timer = setTimeout(() => child.kill("SIGKILL"), unit.timeoutStopSec * 1000);
      await exited;
      clearTimeout(timer);
      this.events.push({ unit: name, event: "stopped", at: Date.now() });
    }
  }
}
