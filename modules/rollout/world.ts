/**
 * The rollout's rehearsal world: one pool's hosts with their calls, a clock, the metrics the
 * rollout reads (sessions and healthy hosts per host and release, per-session quality by
 * release) and a driver that acts as the pool's provider does on each call — the rules of
 * modules/providers, cited: a GCP VM recreated gets the stop limit; an AWS instance terminated
 * in its group waits in its drain hook while the group launches its replacement; a bare-metal
 * host runs its changed payload at the next `up`. It tallies what a rollout must never do:
 * calls cut before their host's drain limit, and more hosts out of service than allowed.
 */
import type { RolloutConfig } from "../config/rollout.schema";
import type { Fetched } from "../gates/compare";
import type { MetricsProvider } from "../gates/metrics";
import { ACTIVE_SESSIONS, HEALTHY_HOSTS, SLO_NAMES } from "../gates/slo";
import { worldHistogram, type SessionRecord } from "../gates/world-sessions";
import type { Clock } from "../migrate/clock";
import type { CliResult } from "../migrate/pulumi";
import * as aws from "../providers/aws";
import * as gcp from "../providers/gcp";
import { RERUN } from "../providers/command";
import { Citations } from "../providers/rule";
import { BOOT } from "../lifecycle/host";
import { unavailableHosts } from "../release/batches";
import { rng } from "../world/demand";
import type { Action, PoolDriver } from "./executor";
import type { PoolRead } from "./units";

interface Host {
  name: string;
  domain: string;
  release: string;
  /** End times (ms) of its calls. */
  calls: number[];
  /** Out of service from then: draining, or down. */
  drainingSince?: number;
  /** Down (stopping, booting) until then. */
  downUntil?: number;
  gone?: boolean;
}

export interface RolloutTally {
  callsCut: number;
  callsCutAtLimit: number;
  maxOutOfService: number;
  maxUnavailableExceeded: number;
  hostsUpdated: number;
  hostsRolledBack: number;
}

export interface WorldOptions {
  stack: string;
  kind: PoolRead["kind"];
  /** Hosts by failure domain: `domains` × `perDomain`. */
  domains: string[];
  perDomain: number;
  drainSeconds: number;
  running: string;
  rendered: string;
  /** Packet loss a release adds (the bad release: +0.01, one point). */
  extraLoss?: Record<string, number>;
  /** Calls a serving host carries at steady state (default 200: a canary host must carry
   * enough joins for join success to be told within its 0.2 % floor in a bake). */
  callsPerHost?: number;
  seed?: number;
}

const MINUTE = 60_000;
/** Most calls are short; one in twenty runs two hours (the tail every drain waits for). */
const SHORT_CALL_MIN = 12;
const LONG_CALL_MIN = 120;
const LONG_SHARE = 0.05;
const BASE_QUALITY = { loss: 0.004, jitter: 0.012, join: 0.998, rtt: 0.09 };

export class RolloutWorld {
  now = 0;
  readonly hosts: Host[] = [];
  readonly tally: RolloutTally = {
    callsCut: 0,
    callsCutAtLimit: 0,
    maxOutOfService: 0,
    maxUnavailableExceeded: 0,
    hostsUpdated: 0,
    hostsRolledBack: 0,
  };
  readonly citations = new Citations();
  readonly record: SessionRecord;
  private readonly random: () => number;
  private seq = 0;
  /** Joins per release since the last recorded minute. */
  private joins = new Map<string, number>();
  private config?: RolloutConfig;
  /** The release new and recreated hosts get (the group's template or version). */
  private target: string;
  private readonly size: number;

  constructor(readonly o: WorldOptions) {
    this.random = rng(o.seed ?? 1);
    this.target = o.running;
    for (const domain of o.domains) {
      for (let i = 0; i < o.perDomain; i++) this.addHost(domain, o.running, true);
    }
    this.size = this.hosts.length;
    this.record = { region: o.stack, pools: [], now: 0, minutes: [] };
  }

  private addHost(domain: string, release: string, seeded = false): Host {
    const host: Host = {
      name: `${this.o.stack}-${domain}-${String(++this.seq).padStart(3, "0")}`,
      domain,
      release,
      calls: [],
    };
    if (seeded) {
      for (let i = 0; i < (this.o.callsPerHost ?? 200); i++) {
        host.calls.push(this.callLength() * this.random());
      }
    }
    this.hosts.push(host);
    return host;
  }

  private callLength(): number {
    const mean = this.random() < LONG_SHARE ? LONG_CALL_MIN : SHORT_CALL_MIN;
    return -Math.log(1 - this.random()) * mean * MINUTE;
  }

  live(): Host[] {
    return this.hosts.filter((h) => !h.gone);
  }

  serving(h: Host): boolean {
    return !h.gone && h.drainingSince === undefined && (h.downUntil ?? 0) <= this.now;
  }

  sessions(h: Host): number {
    return h.calls.filter((end) => end > this.now).length;
  }

  /** The host stops: calls on it end, cut unless its drain had reached the limit. */
  private stop(h: Host, at: number): void {
    const ended = h.calls.filter((end) => end > at).length;
    const atLimit =
      h.drainingSince !== undefined && at >= h.drainingSince + this.o.drainSeconds * 1000;
    if (atLimit) this.tally.callsCutAtLimit += ended;
    else this.tally.callsCut += ended;
    h.calls = h.calls.map((end) => Math.min(end, at));
  }

  /** One second: calls end, joins land on serving hosts, a minute's quality is recorded. */
  private tick(): void {
    this.now += 1000;
    const serving = this.live().filter((h) => this.serving(h));
    const perHost = this.o.callsPerHost ?? 200;
    // Joins keep each serving host near its steady load: arrivals = load / mean call length.
    const meanMin = (1 - LONG_SHARE) * SHORT_CALL_MIN + LONG_SHARE * LONG_CALL_MIN;
    const rate = (perHost / (meanMin * 60)) * (this.size / Math.max(1, serving.length));
    for (const h of serving) {
      for (let k = rate; k > 0; k--) {
        if (k >= 1 || this.random() < k) {
          h.calls.push(this.now + this.callLength());
          this.joins.set(h.release, (this.joins.get(h.release) ?? 0) + 1);
        }
      }
    }
    const out = this.size - serving.length;
    this.tally.maxOutOfService = Math.max(this.tally.maxOutOfService, out);
    if (this.config) {
      const allowed = unavailableHosts(
        this.config.maxUnavailable as number | `${number}%`,
        this.size,
      );
      if (out > allowed) this.tally.maxUnavailableExceeded++;
    }
    if (this.now % MINUTE === 0) {
      this.recordMinute();
      for (const h of this.hosts) h.calls = h.calls.filter((end) => end > this.now);
    }
  }

  private recordMinute(): void {
    const byRelease = new Map<string, Host[]>();
    for (const h of this.live()) byRelease.set(h.release, [...(byRelease.get(h.release) ?? []), h]);
    const minute = {
      t: this.now,
      sessions: {},
      joins: {},
      quality: {},
    } as SessionRecord["minutes"][number];
    for (const [release, hosts] of byRelease) {
      const sessions = hosts.reduce((n, h) => n + this.sessions(h), 0);
      const q = [
        BASE_QUALITY.loss + (this.o.extraLoss?.[release] ?? 0),
        BASE_QUALITY.jitter,
        BASE_QUALITY.join,
        BASE_QUALITY.rtt,
      ];
      (minute.sessions as Record<string, number>)[release] = sessions;
      (minute.joins as Record<string, number>)[release] = this.joins.get(release) ?? 0;
      (minute.quality as Record<string, number[]>)[release] = q;
    }
    this.joins.clear();
    this.record.minutes.push(minute);
    this.record.now = this.now;
  }

  advance(to: number): void {
    while (this.now + 1000 <= to) this.tick();
  }

  readonly clock: Clock = {
    now: () => this.now,
    tickMs: MINUTE,
    sleep: async (ms) => this.advance(this.now + ms),
  };

  /** Hosts a selector's matchers pick: pool, host=~a|b, release=r, release!=r. */
  private matching(query: string): Host[] {
    const m = /\{(.*)\}$/.exec(query);
    if (!m) throw new Error(`not a selector: ${query}`);
    let hosts = this.live();
    for (const matcher of m[1].split(/,(?=[a-z_]+(?:=~|!=|=)")/)) {
      const [, label, op, value] = /^([a-z_]+)(=~|!=|=)"(.*)"$/.exec(matcher)!;
      const of = (h: Host) =>
        label === "pool" ? this.o.stack : label === "host" ? h.name : h.release;
      if (op === "=~") hosts = hosts.filter((h) => value.split("|").includes(of(h)));
      else if (op === "!=") hosts = hosts.filter((h) => of(h) !== value);
      else hosts = hosts.filter((h) => of(h) === value);
    }
    return hosts;
  }

  readonly metrics: MetricsProvider = {
    range: async () => [],
    instant: async (query) => {
      const hosts = this.matching(query);
      if (query.startsWith(`${ACTIVE_SESSIONS}{`)) {
        return hosts.reduce((n, h) => n + this.sessions(h), 0);
      }
      if (query.startsWith(`${HEALTHY_HOSTS}{`)) return hosts.filter((h) => this.serving(h)).length;
      throw new Error(`the rollout world does not publish ${query}`);
    },
    histogram: async (metric, pool, from, to): Promise<Fetched> => {
      // A cohort by release: the releases its matcher picks, summed minute by minute.
      const [, cohort = ""] = pool.split("/");
      const [, op, value] = /^release(!=|=)(.*)$/.exec(cohort) ?? [];
      const picks = (release: string) =>
        op === undefined || (op === "=" ? release === value : release !== value);
      const minutes = this.record.minutes.map((m) => {
        const releases = Object.keys(m.sessions).filter(picks);
        const sessions = releases.reduce((n, r) => n + m.sessions[r], 0);
        const joins = releases.reduce((n, r) => n + (m.joins?.[r] ?? 0), 0);
        const quality = SLO_NAMES.map((_, i) =>
          sessions === 0
            ? 0
            : releases.reduce((n, r) => n + m.quality[r][i] * m.sessions[r], 0) / sessions,
        );
        return {
          t: m.t,
          sessions: { [pool]: sessions },
          joins: { [pool]: joins },
          quality: sessions > 0 ? { [pool]: quality } : {},
        };
      });
      return worldHistogram({ ...this.record, pools: [pool], minutes }, metric, pool, from, to);
    },
  };

  read(): PoolRead {
    return {
      stack: this.o.stack,
      kind: this.o.kind,
      rendered: this.o.rendered,
      running: this.o.running,
      from: { id: this.o.running },
      hosts: this.live().map((h) => ({ name: h.name, domain: h.domain, release: h.release })),
      drainSeconds: this.o.drainSeconds,
    };
  }

  private host(name: string): Host {
    const h = this.hosts.find((x) => x.name === name && !x.gone);
    if (!h) throw new Error(`${this.o.stack} has no host ${name}`);
    return h;
  }

  private releaseOf(config: RolloutConfig): string {
    return config.target === "release" ? config.release : this.o.running;
  }

  /** `pulumi config set` of each field and `up`: the program acts on the hosts it changes. */
  private up(config: RolloutConfig): Action[] {
    const stack = this.o.stack;
    const actions: Action[] = Object.entries(config).map(([key, value]) => ({
      argv: [
        "pulumi",
        "config",
        "set",
        "--path",
        `avfleet:rollout.${key}`,
        JSON.stringify(value),
        "--stack",
        stack,
      ],
      exitCode: 0,
      summary: "",
    }));
    this.config = config;
    this.target = this.releaseOf(config);
    actions.push({ argv: ["pulumi", "up", "--yes", "--stack", stack], exitCode: 0, summary: "" });
    return actions;
  }

  readonly driver: PoolDriver = {
    read: async () => this.read(),
    configure: async (config) => this.up(config),
    drain: async (config, _batch, names) => {
      const hosts = names.map((n) => this.host(n));
      const drain = (h: Host) => (h.drainingSince ??= this.now);
      if (this.o.kind === "metal") {
        // The batch's payload becomes a drain request; `up` runs exactly the changed commands.
        this.citations.cite(RERUN, true);
        const actions = this.up(config);
        hosts.forEach(drain);
        return actions;
      }
      const actions = this.up(config);
      if (this.o.kind === "gcp") {
        hosts.forEach(drain);
        return [
          ...actions,
          ...hosts.map((h) => ({
            argv: [
              "gcloud",
              "compute",
              "instances",
              "add-metadata",
              h.name,
              `--zone=${h.domain}`,
              "--metadata=avfleet-drain=true",
            ],
            exitCode: 0,
            summary: "",
          })),
        ];
      }
      // AWS: a terminate in the group holds the instance in Terminating:Wait (the drain hook)
      // while the group launches its replacement from the launch template it points at.
      this.citations.cite(aws.TERMINATION, true);
      for (const h of hosts) {
        drain(h);
        const replacement = this.addHost(h.domain, this.target);
        replacement.downUntil = this.now + (BOOT.osSec + BOOT.installSec) * 1000;
      }
      return [
        ...actions,
        ...hosts.map((h) => ({
          argv: [
            "aws",
            "autoscaling",
            "terminate-instance-in-auto-scaling-group",
            "--instance-id",
            h.name,
            "--no-should-decrement-desired-capacity",
          ],
          exitCode: 0,
          summary: "",
        })),
      ];
    },
    update: async (config, _batch, names) => {
      const hosts = names.map((n) => this.host(n));
      const release = this.releaseOf(config);
      const counted = (n: number) => {
        if (config.target === "release") this.tally.hostsUpdated += n;
        else this.tally.hostsRolledBack += n;
      };
      const actions = this.up(config);
      if (this.o.kind === "metal") {
        // The payload installs the package without restarting the server, then restarts it
        // (the host is drained): a short restart, calls at the limit ended.
        for (const h of hosts) {
          this.stop(h, this.now);
          h.release = release;
          h.drainingSince = undefined;
          h.downUntil = this.now + BOOT.rerunSec * 1000;
        }
        counted(hosts.length);
        return actions;
      }
      if (this.o.kind === "gcp") {
        // A recreated VM gets the stop limit, then boots from the group's template.
        const stopSec = this.citations.cite(gcp.STOP_LIMIT, gcp.STOP_LIMIT_SEC);
        for (const h of hosts) {
          this.stop(h, this.now);
          h.release = release;
          h.drainingSince = undefined;
          h.downUntil = this.now + (stopSec + BOOT.osSec + BOOT.installSec) * 1000;
        }
        counted(hosts.length);
        return [
          ...actions,
          {
            argv: [
              "gcloud",
              "compute",
              "instance-groups",
              "managed",
              "recreate-instances",
              this.o.stack,
              `--instances=${names.join(",")}`,
            ],
            exitCode: 0,
            summary: "",
          },
        ];
      }
      // AWS: the agent completes the hook once drained (or at the limit); the instance goes.
      for (const h of hosts) {
        this.stop(h, this.now);
        h.gone = true;
      }
      counted(hosts.length);
      return actions;
    },
  };

  /** What a command runner of the rehearsal returns to the executor's Pulumi calls. */
  async pulumi(args: string[]): Promise<CliResult> {
    return { exitCode: 0, stdout: "", stderr: `rehearsal: pulumi ${args.join(" ")}` };
  }
}
