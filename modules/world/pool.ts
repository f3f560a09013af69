/**
 * A pool of media hosts, minute by minute: hosts boot (a few minutes cold, about one from a
 * warm pool), serve joins up to their capacity, and leave either by draining (no new joins,
 * calls end on their own, the rest cut at the drain limit) or by being deleted. Joins go to
 * serving hosts in proportion to their free capacity (least-loaded balancing); joins beyond
 * every host's capacity are refused. Sessions on a host are counts per phase of the session
 * mix, so a pool of hundreds of hosts runs a month in milliseconds.
 */
import { meanSessionMin, rng, type SessionMix, survivalPerMinute } from "./demand";

export interface PoolSpec {
  /** Concurrent sessions one host carries at full load. */
  capacity: number;
  /** Minutes a host may drain before its remaining calls are cut. */
  drainLimitMin: number;
  /** Boot minutes without a warm pool: uniform in [min, max]. */
  coldBootMin: [number, number];
  /** Boot minutes from a warm (stopped, pre-initialized) pool. */
  warmBootMin: number;
  warmPool: boolean;
  seed: number;
}

/** How a policy's scale-in takes hosts out. */
export type Removal =
  /** Least-loaded hosts first; they drain until empty or the drain limit. */
  | {
      kind: "drain";
      pick: Pick;
      limitMin?: number;
      /**
       * Hosts expected to hold more calls than this at the drain limit are not taken: the
       * scale-in waits for their calls to end instead of cutting them.
       */
      maxLeftAtLimit?: number;
    }
  /** Deleted at once: every call on them is cut. */
  | { kind: "delete"; pick: Pick };

/**
 * Which hosts a scale-in takes: the least loaded; the newest or oldest (what a cloud group
 * does, not knowing calls); or those expected to hold the fewest calls at the drain limit
 * (the host agent knows how long its calls have lasted).
 */
export type Pick = "least-loaded" | "newest" | "oldest" | "fewest-left-at-limit";

/** What a scale-in knows of a host when it picks. */
export interface RemovalCandidate {
  createdAt: number;
  booting: boolean;
  load: number;
  /** Calls expected to be still running after the drain limit. */
  leftAtLimit: number;
}

/** Indexes of `candidates` in the order a scale-in takes them; booting hosts (no calls) first. */
export function removalOrder(candidates: RemovalCandidate[], pick: Pick): number[] {
  const key = (c: RemovalCandidate) =>
    pick === "least-loaded"
      ? c.load
      : pick === "fewest-left-at-limit"
        ? c.leftAtLimit
        : pick === "newest"
          ? -c.createdAt
          : c.createdAt;
  return candidates
    .map((_, i) => i)
    .sort((a, b) => {
      const [ca, cb] = [candidates[a], candidates[b]];
      if (ca.booting !== cb.booting) return ca.booting ? -1 : 1;
      return key(ca) - key(cb);
    });
}

interface Host {
  id: number;
  createdAt: number;
  readyAt: number;
  drainingSince: number;
  drainLimit: number;
  /**
   * Out of rotation (≥ 0): takes joins only once every host in rotation is full, the host a
   * scale-in takes first (rank 0) last. −1: in rotation.
   */
  cordonRank: number;
  sessions: Float64Array;
}

export interface PoolTotals {
  hostMinutes: number;
  /** Minutes in which joins were refused because every serving host was full. */
  overloadMinutes: number;
  refusedJoins: number;
  /** Calls cut before their host's drain limit (deleted, or drained too briefly). */
  callsCut: number;
  /** Calls still running when a host reached the drain limit. */
  callsCutAtLimit: number;
  scaleOuts: number;
  scaleIns: number;
  peakHosts: number;
}

export interface PoolMinute {
  load: number;
  serving: number;
  booting: number;
  draining: number;
  refused: number;
}

export class Pool {
  private hosts: Host[] = [];
  private nextId = 0;
  /** Whether a cordoned host takes the joins the hosts in rotation have no room for. */
  private cordonTakesOverflow = true;
  private readonly survive: number[];
  /** Share of each phase's calls still running a drain limit later. */
  private readonly survivesLimit: number[];
  private readonly shares: number[];
  private readonly random: () => number;
  readonly totals: PoolTotals = {
    hostMinutes: 0,
    overloadMinutes: 0,
    refusedJoins: 0,
    callsCut: 0,
    callsCutAtLimit: 0,
    scaleOuts: 0,
    scaleIns: 0,
    peakHosts: 0,
  };
  /** Sessions cut so far, per phase of the mix: the calls whose participants may come back. */
  readonly cutByPhase: Float64Array;

  constructor(
    readonly spec: PoolSpec,
    readonly mix: SessionMix,
    initialHosts: number,
    /** Sessions already in progress at minute 0, spread evenly, in the mix's steady state. */
    initialLoad = 0,
  ) {
    this.survive = survivalPerMinute(mix);
    this.shares = mix.phases.map((p) => p.share);
    this.random = rng(spec.seed);
    this.cutByPhase = new Float64Array(mix.phases.length);
    this.survivesLimit = this.survive.map((p) => p ** spec.drainLimitMin);
    const mean = meanSessionMin(mix);
    for (let i = 0; i < initialHosts; i++) {
      this.add(0, 0);
      const perHost = Math.min(initialLoad / initialHosts, spec.capacity);
      mix.phases.forEach(
        (p, k) => (this.hosts[i].sessions[k] = (perHost * p.share * p.meanMin) / mean),
      );
    }
  }

  private add(now: number, bootMin: number): void {
    this.hosts.push({
      id: this.nextId++,
      createdAt: now,
      readyAt: now + bootMin,
      drainingSince: -1,
      drainLimit: 0,
      cordonRank: -1,
      sessions: new Float64Array(this.survive.length),
    });
  }

  private bootMinutes(): number {
    if (this.spec.warmPool) return this.spec.warmBootMin;
    const [lo, hi] = this.spec.coldBootMin;
    return Math.round(lo + this.random() * (hi - lo));
  }

  private leftAtLimit(host: Host): number {
    let n = 0;
    for (let k = 0; k < host.sessions.length; k++) n += host.sessions[k] * this.survivesLimit[k];
    return n;
  }

  /** Ends a host's calls as cut; returns how many. */
  private cut(host: Host): number {
    for (let k = 0; k < host.sessions.length; k++) this.cutByPhase[k] += host.sessions[k];
    return Pool.load(host);
  }

  static load(host: Host): number {
    let n = 0;
    for (let k = 0; k < host.sessions.length; k++) n += host.sessions[k];
    return n;
  }

  /**
   * Hosts that take joins or will soon: serving and booting, not draining; and the sessions
   * each draining host still holds (a GCP host's agent publishes them as its load).
   */
  active(now: number): {
    serving: number;
    booting: number;
    draining: number;
    drainingSessions: number[];
  } {
    let serving = 0;
    let booting = 0;
    const drainingSessions: number[] = [];
    for (const h of this.hosts) {
      if (h.drainingSince >= 0) drainingSessions.push(Pool.load(h));
      else if (h.readyAt <= now) serving++;
      else booting++;
    }
    return { serving, booting, draining: drainingSessions.length, drainingSessions };
  }

  /**
   * Takes `count` serving hosts out of rotation (those a scale-in would pick first) and puts the
   * rest back: a cordoned host gets only the joins no other host has room for, the one taken
   * first last of all, so its calls thin out before it is drained, while its capacity counts.
   * `deployed`: as GCP's scale-in controller and load balancer do it: the set moves only by the
   * difference in count, those cordoned already kept first, and a cordoned host gets no joins at
   * all (the balancer sends it none while a host in rotation passes its check).
   */
  cordon(now: number, count: number, pick: Pick, deployed = false): void {
    const serving = this.hosts.filter((h) => h.drainingSince < 0 && h.readyAt <= now);
    const order = removalOrder(
      serving.map((h) => this.candidate(h, now)),
      pick,
    );
    const held = (i: number) => serving[i].cordonRank >= 0;
    const ranked = deployed ? [...order.filter(held), ...order.filter((i) => !held(i))] : order;
    ranked.forEach((i, rank) => (serving[i].cordonRank = rank < count ? rank : -1));
    this.cordonTakesOverflow = !deployed;
  }

  private candidate(h: Host, now: number): RemovalCandidate {
    return {
      createdAt: h.createdAt,
      booting: h.readyAt > now,
      load: Pool.load(h),
      leftAtLimit: this.leftAtLimit(h),
    };
  }

  /** Brings the non-draining host count to `desired`: boots hosts or takes some out. */
  scaleTo(now: number, desired: number, removal: Removal): void {
    const { serving, booting } = this.active(now);
    const current = serving + booting;
    if (desired > current) {
      for (let i = current; i < desired; i++) this.add(now, this.bootMinutes());
      this.totals.scaleOuts++;
      return;
    }
    if (desired >= current) return;
    const candidates = this.hosts.filter((h) => h.drainingSince < 0);
    const cands = candidates.map((h) => this.candidate(h, now));
    const order = removalOrder(cands, removal.pick);
    const limit = removal.kind === "drain" ? (removal.maxLeftAtLimit ?? Infinity) : Infinity;
    const out = new Set(
      order
        .filter((i) => cands[i].booting || cands[i].leftAtLimit <= limit)
        .slice(0, current - desired)
        .map((i) => candidates[i]),
    );
    if (out.size === 0) return;
    this.totals.scaleIns++;
    this.hosts = this.hosts.filter((h) => {
      if (!out.has(h)) return true;
      if (removal.kind === "delete" || h.readyAt > now) {
        this.totals.callsCut += this.cut(h);
        return false;
      }
      h.drainingSince = now;
      h.drainLimit = Math.min(removal.limitMin ?? this.spec.drainLimitMin, this.spec.drainLimitMin);
      return true;
    });
  }

  /**
   * One minute: calls end, joins arrive, drained hosts leave. `resumed` are participants of cut
   * calls coming back, per phase: their calls go on as long as they would have.
   */
  step(now: number, joins: number, resumed?: Float64Array): PoolMinute {
    const serving: Host[] = [];
    let free = 0;
    let freeInRotation = 0;
    let load = 0;
    let booting = 0;
    const kept: Host[] = [];
    for (const h of this.hosts) {
      for (let k = 0; k < h.sessions.length; k++) h.sessions[k] *= this.survive[k];
      const n = Pool.load(h);
      if (h.drainingSince >= 0) {
        const drained = now - h.drainingSince;
        if (n < 0.5) continue;
        if (drained >= h.drainLimit) {
          // Calls cut at a limit shorter than the pool's drain limit count as cut short.
          if (h.drainLimit < this.spec.drainLimitMin) this.totals.callsCut += this.cut(h);
          else this.totals.callsCutAtLimit += this.cut(h);
          continue;
        }
      } else if (h.readyAt <= now) {
        serving.push(h);
        free += Math.max(0, this.spec.capacity - n);
        if (h.cordonRank < 0) freeInRotation += Math.max(0, this.spec.capacity - n);
      } else {
        booting++;
      }
      load += n;
      kept.push(h);
    }
    this.hosts = kept;
    const back = resumed ? resumed.reduce((n, v) => n + v, 0) : 0;
    const arriving = joins + back;
    const admitted = Math.min(arriving, this.cordonTakesOverflow ? free : freeInRotation);
    if (admitted > 0) {
      // Each phase's arrivals: the mix's share of new joins, plus the calls resuming in it.
      const perPhase = this.shares.map(
        (share, k) => ((joins * share + (resumed?.[k] ?? 0)) * admitted) / arriving,
      );
      // Hosts in rotation first, in proportion to their free capacity; the overflow fills the
      // cordoned ones one by one, the last to be taken first.
      const inRotation = Math.min(admitted, freeInRotation);
      let overflow = admitted - inRotation;
      const took = serving.map((h) =>
        h.cordonRank < 0
          ? inRotation &&
            (inRotation * Math.max(0, this.spec.capacity - Pool.load(h))) / freeInRotation
          : 0,
      );
      const cordoned = serving
        .map((_, i) => i)
        .filter((i) => serving[i].cordonRank >= 0)
        .sort((a, b) => serving[b].cordonRank - serving[a].cordonRank);
      for (const i of cordoned) {
        if (overflow <= 0) break;
        took[i] = Math.min(overflow, Math.max(0, this.spec.capacity - Pool.load(serving[i])));
        overflow -= took[i];
      }
      serving.forEach((h, i) => {
        for (let k = 0; k < h.sessions.length; k++)
          h.sessions[k] += (took[i] / admitted) * perPhase[k];
      });
    }
    const refused = arriving - admitted;
    // Half a session is the fluid model's rounding: less than one refused call is none.
    if (refused >= 0.5) {
      this.totals.overloadMinutes++;
      this.totals.refusedJoins += refused;
    }
    this.totals.hostMinutes += this.hosts.length;
    this.totals.peakHosts = Math.max(this.totals.peakHosts, this.hosts.length);
    return {
      load: load + admitted,
      serving: serving.length,
      booting,
      draining: this.hosts.length - serving.length - booting,
      refused,
    };
  }
}
