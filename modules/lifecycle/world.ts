/**
 * The lifecycle simulation's world: a pool's hosts, the calls on them, a clock in seconds, and
 * the tally a scenario reports — calls cut before their host's drain limit, hosts churned,
 * seconds a host was kept past its limit. Actors (the providers' rules applied to the rendered
 * pool, and the rendered agent's answers) act on it once a second.
 */
import { Citations, type ProviderRule } from "../providers/rule";
import { answer, type AgentAnswers, type HostState } from "./agent";
import type { RenderedPool } from "./rendered";

export interface SimHost {
  name: string;
  zone: string;
  /** The instance template or launch template version it was created from. */
  template: number;
  /** When the provider created it (autohealing's initial delay counts from here). */
  createdAt: number;
  /** When its agent and media server answer (after a boot or a reboot). */
  upAt: number;
  /** End times of the calls on it. */
  calls: number[];
  drain?: Drain;
  /** A killed agent answers nothing until systemd has started it again. */
  agentDownUntil: number;
  /** Its tuning no longer verifies (readiness fails, the media server still serves). */
  untuned: boolean;
  /** A drain asked of it (a metadata mark, a file, a lifecycle state): its agent starts it. */
  drainRequested?: string;
  /** The release a rollout drains it for: the rollout, not the scale-in controller, replaces it. */
  drainFor?: string;
  /** A reboot under way: down from `down`, up again (its shutdown drain over) at `up`. */
  reboot?: { down: number; up: number };
  /** It really failed (crashed): replacing it is a repair, not churn. */
  failed?: boolean;
  /** Set when it is gone: powered off, deleted or replaced. */
  goneAt?: number;
}

export interface Drain {
  startedAt: number;
  /** startedAt + the pool's drain limit: calls still on it then may be cut. */
  deadline: number;
  reason: string;
  /** When the agent last thought it had told the platform the host may go. */
  completedAt?: number;
  /** When the platform really had it (the host may go from then on). */
  acceptedAt?: number;
}

export interface Outcome {
  /** Calls ended by the platform before their host's drain limit: the promise broken. */
  callsCut: number;
  /** Calls still running at their host's drain limit, ended there: what the limit allows. */
  callsCutAtLimit: number;
  /** Calls on a host that crashed: no design keeps those. */
  callsLostToFault: number;
  /** Hosts recreated or replaced that would have served on (a repair of a live host, a rebalance). */
  churnedHosts: number;
  /** Seconds hosts were kept past their drain limit before the platform was told they may go. */
  secondsPastLimit: number;
  /** `pulumi up`s the change leaves failed (the stack in error until someone steps in). */
  failedUps: number;
  /** What happened, in order, for a person. */
  story: string[];
  /** How each host that went, went: the drain it had (if any) and what removed it. */
  departures: { drain?: string; why: string; fault: boolean }[];
}

export type Actor = (world: World) => void;

export class World {
  t = 0;
  readonly hosts: SimHost[] = [];
  readonly outcome: Outcome = {
    callsCut: 0,
    callsCutAtLimit: 0,
    callsLostToFault: 0,
    churnedHosts: 0,
    secondsPastLimit: 0,
    failedUps: 0,
    story: [],
    departures: [],
  };
  readonly citations = new Citations();
  private seq = 0;

  constructor(
    readonly pool: RenderedPool,
    readonly answers: AgentAnswers,
  ) {}

  get drainSeconds(): number {
    return this.pool.agent.drainSeconds;
  }

  cite<T>(rule: ProviderRule, value: T): T {
    return this.citations.cite(rule, value);
  }

  say(text: string): void {
    this.outcome.story.push(`${clock(this.t)} ${text}`);
  }

  addHost(
    zone: string,
    calls: number[],
    opts: { upAt?: number; template?: number; createdAt?: number } = {},
  ) {
    const host: SimHost = {
      name: `${this.pool.pool}-${String(this.seq++).padStart(2, "0")}`,
      zone,
      template: opts.template ?? 1,
      createdAt: opts.createdAt ?? this.t,
      upAt: opts.upAt ?? this.t,
      calls: [...calls],
      agentDownUntil: 0,
      untuned: false,
    };
    this.hosts.push(host);
    return host;
  }

  live(): SimHost[] {
    return this.hosts.filter((h) => h.goneAt === undefined);
  }

  sessions(host: SimHost): number {
    return host.calls.filter((end) => end > this.t).length;
  }

  /** What the host is in, for its agent's answers; undefined when nothing answers. */
  state(host: SimHost): HostState | undefined {
    if (host.reboot && this.t >= host.reboot.down) {
      if (this.t < host.reboot.up) return undefined;
      // A shutdown drain ends with its boot: the host serves again.
      host.drain = undefined;
      host.reboot = undefined;
    }
    if (host.goneAt !== undefined || this.t < host.upAt || this.t < host.agentDownUntil) {
      return undefined;
    }
    if (host.drain) return "draining";
    return host.untuned ? "untuned" : "serving";
  }

  /** The HTTP status a prober gets on `path` (0: no answer). */
  probe(host: SimHost, path: string): number {
    const state = this.state(host);
    return state === undefined ? 0 : answer(this.answers, path, state);
  }

  startDrain(host: SimHost, reason: string): void {
    if (host.drain || host.goneAt !== undefined) return;
    host.drain = { startedAt: this.t, deadline: this.t + this.drainSeconds, reason };
    this.say(`${host.name} drains (${reason}), ${this.sessions(host)} call(s) on it`);
  }

  /** The platform has been told the host may go; a host kept past its limit counts it. */
  accept(host: SimHost): void {
    if (!host.drain || host.drain.acceptedAt !== undefined) return;
    host.drain.acceptedAt = this.t;
    this.outcome.secondsPastLimit += Math.max(0, this.t - host.drain.deadline);
  }

  /**
   * The host powers off at `at`: calls still running then end. Cut before the limit unless the
   * host had drained to its limit; lost to a fault when `fault`.
   */
  powerOff(host: SimHost, at: number, why: string, fault = false): void {
    if (host.goneAt !== undefined) return;
    host.goneAt = at;
    this.outcome.departures.push({ drain: host.drain?.reason, why, fault });
    const ended = host.calls.filter((end) => end > at).length;
    host.calls = host.calls.map((end) => Math.min(end, at));
    if (fault) this.outcome.callsLostToFault += ended;
    else if (host.drain && at >= host.drain.deadline) this.outcome.callsCutAtLimit += ended;
    else this.outcome.callsCut += ended;
    this.say(
      `${host.name} goes at ${clock(at)} (${why})${ended ? `: ${ended} call(s) ended` : ""}`,
    );
  }

  /** Runs the actors once a second until `until` (seconds). */
  run(until: number, actors: Actor[]): Outcome {
    for (; this.t <= until; this.t++) for (const act of actors) act(this);
    // Hosts that never left: their drain's time past the limit counts up to the end.
    for (const h of this.live()) {
      if (h.drain && h.drain.acceptedAt === undefined) {
        this.outcome.secondsPastLimit += Math.max(0, until - h.drain.deadline);
      }
    }
    return this.outcome;
  }
}

export function clock(t: number): string {
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  return `+${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

/** Every `period` seconds, from `from`. */
export function every(period: number, act: Actor, from = 0): Actor {
  return (w) => {
    if (w.t >= from && (w.t - from) % Math.max(1, Math.round(period)) === 0) act(w);
  };
}

/** Once, at `at`. */
export function at(when: number, act: Actor): Actor {
  return (w) => {
    if (w.t === when) act(w);
  };
}
