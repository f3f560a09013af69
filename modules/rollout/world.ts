/**
 * The rollout's rehearsal world: one pool's hosts with their calls, a clock, the metrics the
 * rollout reads (sessions and healthy hosts per host and release, per-session quality by
 * release) and a driver that acts as the pool's provider does on each call — the rules of
 * modules/providers, cited: a GCP VM recreated gets the stop limit; an AWS instance terminated
 * in its group waits in its drain hook while the group launches its replacement; a bare-metal
 * host runs its changed payload at the next `up`. It tallies what a rollout must never do:
 * calls cut before their host's drain limit, and more hosts out of service than allowed.
 */
import type { RolloutConfig } from "../config/rollout";
import type { Fetched } from "../gates/metrics";
import type { MetricsProvider } from "../gates/metrics";
import { ACTIVE_SESSIONS, HEALTHY_HOSTS, MATCHER_OPS, SLO_NAMES } from "../gates/slo";
import { worldHistogram, type SessionRecord } from "../gates/world-sessions";
import type { Clock } from "../migrate/clock";
import type { CliResult } from "../migrate/pulumi";
import * as aws from "../providers/aws";
import * as gcp from "../providers/gcp";
import { RERUN } from "../providers/command";
import { Citations } from "../providers/rule";
import { BOOT } from "../lifecycle/host";
import { planBatches, unavailableHosts, type BatchLimits } from "../release/batches";
import { rng } from "../world/demand";
import type { PoolDriver } from "./executor";
import { awsDriver, configFromArgs, gcpDriver, metalDriver } from "./drivers";
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
  /** AWS: terminated in its group, held in Terminating:Wait by the drain hook. */
  terminating?: boolean;
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
  /** The hosts' pool label, when it is not the stack's name (a GCP or AWS pool's short name). */
  pool?: string;
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
/** GCP: the one VM of the pool's standby pool, stopped. */
const STANDBY_VM = "standby-0";
/** Most calls are short; one in twenty runs two hours (the tail every drain waits for). */
const SHORT_CALL_MIN = 12;
const LONG_CALL_MIN = 120;
const LONG_SHARE = 0.05;
const MEAN_CALL_MIN = (1 - LONG_SHARE) * SHORT_CALL_MIN + LONG_SHARE * LONG_CALL_MIN;
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
    const rate = (perHost / (MEAN_CALL_MIN * 60)) * (this.size / Math.max(1, serving.length));
    for (const h of serving) {
      for (let k = rate; k > 0; k--) {
        if (k >= 1 || this.random() < k) {
          h.calls.push(this.now + this.callLength());
          this.joins.set(h.release, (this.joins.get(h.release) ?? 0) + 1);
        }
      }
    }
    // The agent completes the drain hook at zero calls, or at the limit; the instance goes.
    for (const h of this.live().filter((x) => x.terminating)) {
      if (this.sessions(h) === 0 || this.now >= h.drainingSince! + this.o.drainSeconds * 1000) {
        this.citations.cite(aws.TERMINATION, true);
        this.stop(h, this.now);
        h.gone = true;
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
    for (const matcher of m[1].split(new RegExp(`,(?=[a-z_]+(?:${MATCHER_OPS})")`))) {
      const [, label, op, value] = new RegExp(`^([a-z_]+)(${MATCHER_OPS})"(.*)"$`).exec(matcher)!;
      const of = (h: Host) =>
        label === "pool" ? (this.o.pool ?? this.o.stack) : label === "host" ? h.name : h.release;
      if (op === "=~") hosts = hosts.filter((h) => value.split("|").includes(of(h)));
      else if (op === "!~") hosts = hosts.filter((h) => !value.split("|").includes(of(h)));
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
      const [, op, value = ""] = /^release(=~|!~)(.*)$/.exec(cohort) ?? [];
      const picks = (release: string) =>
        op === undefined || value.split("|").includes(release) === (op === "=~");
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
      pool: this.o.pool ?? this.o.stack,
      kind: this.o.kind,
      rendered: this.o.rendered,
      running: this.o.running,
      from: { id: this.o.running },
      labels: { rendered: this.o.rendered, running: this.o.running },
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

  /** A host drained, stopped and started again on `release` (its calls at the limit ended). */
  private restart(h: Host, release: string, downSec: number): void {
    this.stop(h, this.now);
    if (release !== h.release) {
      if (release === this.o.rendered) this.tally.hostsUpdated++;
      else this.tally.hostsRolledBack++;
    }
    h.release = release;
    h.drainingSince = undefined;
    h.downUntil = this.now + downSec * 1000;
  }

  /**
   * `up` with the staged config: the program's decisions. Metal, per host by its batch (the
   * same planBatches the program runs): the draining batch drains, batches below `updated` run
   * the release, the rest what they ran (their command unchanged, so not run again). A cloud
   * group points new and recreated hosts at the target's template or version.
   */
  private up(): void {
    const config = configFromArgs(this.staged) as RolloutConfig;
    this.config = config;
    this.target = this.releaseOf(config);
    if (this.o.kind !== "metal") return;
    const { canary, batches } = planBatches(
      this.live().map((h) => ({ name: h.name, domain: h.domain })),
      config as BatchLimits,
    );
    [canary, ...batches].forEach((names, i) => {
      const release = i < config.updated ? config.release : this.o.running;
      for (const h of names.map((n) => this.host(n))) {
        if (i === config.draining) {
          if (h.drainingSince === undefined) this.citations.cite(RERUN, true);
          h.drainingSince ??= this.now;
        } else if (h.release !== release || h.drainingSince !== undefined) {
          // Its command changed: run again, the bootstrap restarts the drained server on it.
          this.citations.cite(RERUN, true);
          this.restart(h, release, BOOT.rerunSec);
        }
      }
    });
  }

  private staged: string[][] = [];
  /** AWS: the version its warm pool's instance was launched from, and its refreshes. */
  private warmVersion = 1;
  warmRefreshed = 0;
  /** GCP: the release its one standby member (stopped) was made from (none: the running one). */
  private standbyRelease?: string;
  standbyRecreated = 0;

  /** The Pulumi CLI as the rollout's drivers call it: config rm/set, up. */
  async pulumi(args: string[]): Promise<CliResult> {
    const ok = (stdout = "") => ({ exitCode: 0, stdout, stderr: "" });
    if (args[0] === "config" && args[1] === "rm") this.staged = [];
    else if (args[0] === "config" && args[1] === "set") this.staged.push(args);
    else if (args[0] === "up") this.up();
    else return { exitCode: 1, stdout: "", stderr: `rehearsal: no pulumi ${args.join(" ")}` };
    return ok();
  }

  /** gcloud and aws as the rollout calls them: a drain mark, a recreate, a terminate. */
  async run(argv: string[]): Promise<CliResult> {
    const ok = { exitCode: 0, stdout: "", stderr: "" };
    const [program, ...rest] = argv;
    if (program === "gcloud" && rest.includes("add-metadata")) {
      this.host(rest[rest.indexOf("add-metadata") + 1]).drainingSince ??= this.now;
      return ok;
    }
    const template = (release: string) =>
      `https://www.googleapis.com/compute/v1/projects/rehearsal/global/instanceTemplates/${release}`;
    if (program === "gcloud" && rest.includes("describe")) {
      return {
        ...ok,
        stdout: JSON.stringify({ versions: [{ instanceTemplate: template(this.target) }] }),
      };
    }
    if (program === "gcloud" && rest.includes("list-instances")) {
      // The serving hosts, and one standby member the MIG keeps stopped.
      const member = (
        name: string,
        zone: string,
        release: string,
        status: string,
        target: string,
      ) => ({
        instance: `https://www.googleapis.com/compute/v1/projects/rehearsal/zones/${zone}/instances/${name}`,
        instanceStatus: status,
        targetStatus: target,
        currentAction: "NONE",
        version: { instanceTemplate: template(release) },
      });
      const managed = [
        ...this.read().hosts.map((h) => member(h.name, h.domain, h.release, "RUNNING", "RUNNING")),
        member(
          STANDBY_VM,
          this.o.domains[0],
          this.standbyRelease ?? this.o.running,
          "TERMINATED",
          "STOPPED",
        ),
      ];
      return { ...ok, stdout: JSON.stringify(managed) };
    }
    if (program === "gcloud" && rest.includes("recreate-instances")) {
      // A recreated VM gets the stop limit, then boots from the group's template.
      const stopSec = this.citations.cite(gcp.RECREATE, gcp.STOP_LIMIT_SEC);
      const names = rest.find((a) => a.startsWith("--instances="))!.slice("--instances=".length);
      for (const name of names.split(",")) {
        if (name === STANDBY_VM) {
          // Made again from the group's template and kept stopped: no host, no calls.
          this.citations.cite(gcp.STANDBY_MEMBERS, true);
          this.standbyRelease = this.target;
          this.standbyRecreated++;
          continue;
        }
        this.restart(this.host(name), this.target, stopSec + BOOT.osSec + BOOT.installSec);
      }
      return ok;
    }
    if (program === "aws" && rest.includes("describe-auto-scaling-groups")) {
      const version = this.target === this.o.rendered ? 2 : 1;
      return {
        ...ok,
        stdout: JSON.stringify({
          AutoScalingGroups: [{ LaunchTemplate: { Version: String(version) } }],
        }),
      };
    }
    if (program === "aws" && rest.includes("describe-warm-pool")) {
      // One stopped warm instance launched from the version the group had before the rollout.
      const warm =
        this.warmVersion === (this.target === this.o.rendered ? 2 : 1)
          ? []
          : [{ InstanceId: "i-warm", LaunchTemplate: { Version: String(this.warmVersion) } }];
      return { ...ok, stdout: JSON.stringify({ Instances: warm }) };
    }
    if (program === "aws" && rest.includes("terminate-instances")) {
      // EC2 terminates it; the group relaunches its warm pool from the version it points at.
      this.warmVersion = this.target === this.o.rendered ? 2 : 1;
      this.warmRefreshed++;
      return ok;
    }
    if (program === "aws" && rest.includes("terminate-instance-in-auto-scaling-group")) {
      // Deregistered and held in Terminating:Wait by the drain hook, which the agent completes
      // at zero calls or at the drain limit; the group launches the replacement at once.
      const h = this.host(rest[rest.indexOf("--instance-id") + 1]);
      this.citations.cite(aws.TERMINATE_INSTANCE, true);
      h.drainingSince ??= this.now;
      h.terminating = true;
      if (this.target !== h.release) {
        if (this.target === this.o.rendered) this.tally.hostsUpdated++;
        else this.tally.hostsRolledBack++;
      }
      this.addHost(h.domain, this.target).downUntil =
        this.now + (BOOT.osSec + BOOT.installSec) * 1000;
      return ok;
    }
    return { exitCode: 1, stdout: "", stderr: `rehearsal: no ${argv.join(" ")}` };
  }

  /** The pool's driver as a real run builds it, on this world's runners. */
  get driver(): PoolDriver {
    const common = {
      stack: this.o.stack,
      // Whatever runner the world has now, given the lease each call is made under.
      pulumi: this.pulumi.bind(this),
      read: async () => this.read(),
    };
    if (this.o.kind === "metal") return metalDriver(common);
    const run = (argv: string[]) => this.run(argv);
    if (this.o.kind === "gcp") {
      return gcpDriver({
        ...common,
        run,
        clock: this.clock,
        pool: { project: "rehearsal", region: "rehearsal", instanceGroupManager: this.o.stack },
        zoneOf: (name) => this.host(name).domain,
      });
    }
    return awsDriver({
      ...common,
      run,
      pool: { region: "rehearsal", autoScalingGroup: this.o.stack },
    });
  }
}
