/**
 * A small supervisor for the host rehearsal, because systemd is not PID 1 on this machine.
 * It honours what the rendered units rely on: Requires=/Wants=/After= ordering (a wanted unit
 * that does not exist is skipped, as systemd does), Type=oneshot vs
 * simple, ExecStartPre= (a failure means no start), Environment= (units and drop-ins),
 * Restart=always|on-failure with RestartSec=, and stop with KillSignal= to the main process
 * (KillMode=mixed; the rehearsed units have no other), SIGKILL after TimeoutStopSec=, then
 * ExecStopPost=. Processes run in the host's network namespace; absolute paths on the
 * command line that exist under the host's root resolve there (a chroot without chroot).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface Unit {
  name: string;
  requires: string[];
  /** Wanted services that exist here: started first like required ones, a missing one skipped. */
  wants: string[];
  after: string[];
  type: string;
  execStartPre: string[];
  execStart: string;
  execStopPost: string[];
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
    // services only: this supervisor runs no timers or targets
    wants: words("Wants").filter((w) => w.endsWith(".service") && existsSync(join(dir, w))),
    after: words("After"),
    type: one("Type", "simple"),
    execStartPre: values.get("ExecStartPre") ?? [],
    execStart: one("ExecStart", ""),
    execStopPost: values.get("ExecStopPost") ?? [],
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
  /** What each unit's processes wrote to stderr (a container's output comes through podman). */
  readonly stderr = new Map<string, string>();
  private stopping = false;
  /** Units asked to stop: systemd never restarts those, whatever way they exit. */
  private readonly stopRequested = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly netns: string,
  ) {}

  private argv(command: string): string[] {
    // A "+" prefix (full privileges, systemd.service(5)) changes nothing here: everything runs as root.
    return command
      .replace(/^\+/, "")
      .split(/\s+/)
      .filter(Boolean)
      .map((w) => (w.startsWith("/") && existsSync(join(this.root, w)) ? join(this.root, w) : w));
  }

  /**
   * A command line run in the host's network namespace. Podman runs through nsenter, which
   * switches only the network namespace: `ip netns exec` also mounts the namespace's own /sys,
   * and that hides the cgroup hierarchy podman's runtime needs. Everything else wants that /sys
   * (the tuning reads its NICs there).
   */
  private enter(command: string): string[] {
    const argv = this.argv(command);
    return argv[0].endsWith("/podman")
      ? ["nsenter", `--net=/run/netns/${this.netns}`, ...argv]
      : ["ip", "netns", "exec", this.netns, ...argv];
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
      const pulled = [...unit.requires, ...unit.wants];
      for (const dep of pulled) visit(dep);
      for (const dep of unit.after) if (names.includes(dep) || pulled.includes(dep)) visit(dep);
      order.push(name);
    };
    names.forEach(visit);
    for (const name of order)
      if (!this.running.has(name)) await this.startUnit(this.units.get(name)!);
  }

  private async startUnit(unit: Unit): Promise<void> {
    for (const pre of unit.execStartPre) {
      const [command, ...args] = this.enter(pre);
      const r = spawnSync(command, args, {
        env: this.env(unit),
        encoding: "utf8",
      });
      if (r.status !== 0) throw new Error(`${unit.name}: ExecStartPre ${pre} failed: ${r.stderr}`);
    }
    if (unit.type === "oneshot") {
      const [command, ...args] = this.enter(unit.execStart);
      const r = spawnSync(command, args, {
        env: this.env(unit),
        encoding: "utf8",
      });
      this.events.push({ unit: unit.name, event: "exited", at: Date.now(), code: r.status });
      if (r.status !== 0)
        throw new Error(`${unit.name}: ${unit.execStart} failed: ${r.stdout}${r.stderr}`);
      return;
    }
    const [command, ...args] = this.enter(unit.execStart);
    const child = spawn(command, args, {
      env: this.env(unit),
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr!.on("data", (d: Buffer) => {
      this.stderr.set(unit.name, (this.stderr.get(unit.name) ?? "") + d.toString());
      if (process.env.AVFLEET_REHEARSAL_VERBOSE) process.stderr.write(`[${unit.name}] ${d}`);
    });
    this.running.set(unit.name, child);
    this.events.push({ unit: unit.name, event: "started", at: Date.now() });
    child.on("exit", (code, signal) => {
      this.running.delete(unit.name);
      this.events.push({ unit: unit.name, event: "exited", at: Date.now(), code, signal });
      const failed = code !== 0 || signal !== null;
      const again = unit.restart === "always" || (unit.restart === "on-failure" && failed);
      if (again && !this.stopping && !this.stopRequested.has(unit.name)) {
        setTimeout(() => {
          if (this.stopping || this.stopRequested.has(unit.name)) return;
          this.events.push({ unit: unit.name, event: "restarted", at: Date.now() });
          void this.startUnit(unit);
        }, unit.restartSec * 1000);
      }
    });
  }

  pid(name: string): number | undefined {
    return this.running.get(name)?.pid;
  }

  /** Stops one unit: KillSignal=, SIGKILL after TimeoutStopSec=, then its ExecStopPost=. */
  async stop(name: string): Promise<UnitEvent | undefined> {
    const child = this.running.get(name);
    if (!child) return undefined;
    const unit = this.units.get(name)!;
    this.stopRequested.add(name);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(unit.killSignal);
    const timer = setTimeout(() => child.kill("SIGKILL"), unit.timeoutStopSec * 1000);
    await exited;
    clearTimeout(timer);
    for (const post of unit.execStopPost) {
      const [command, ...args] = this.enter(post);
      spawnSync(command, args, { env: this.env(unit), stdio: "ignore" });
    }
    const event: UnitEvent = { unit: name, event: "stopped", at: Date.now() };
    this.events.push(event);
    return event;
  }

  /** Stops every unit in reverse start order. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    const started = this.events.filter((e) => e.event === "started").map((e) => e.unit);
    for (const name of [...new Set(started)].reverse()) await this.stop(name);
  }
}
