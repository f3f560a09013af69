/**
 * Demand of a media region, minute by minute: a diurnal and weekly shape in local time,
 * growth, announced spikes (a game launch) and seeded noise, turned into the joins per minute
 * that produce it given how long sessions last. Pure functions; a trace is plain arrays.
 */

export const MINUTES_PER_DAY = 1440;
export const MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY;

/**
 * How long sessions last: a mixture of exponential phases (a hyperexponential), so that most
 * calls are short and some last hours, while a host's sessions stay a few numbers (one count
 * per phase) instead of one record per call.
 */
export interface SessionMix {
  phases: { share: number; meanMin: number }[];
}

/** Many short calls, a body of meetings, and a multi-hour tail (classes, streams, games). */
export const MEDIA_SESSIONS: SessionMix = {
  phases: [
    { share: 0.6, meanMin: 4 },
    { share: 0.32, meanMin: 35 },
    { share: 0.08, meanMin: 240 },
  ],
};

export function meanSessionMin(mix: SessionMix): number {
  return mix.phases.reduce((m, p) => m + p.share * p.meanMin, 0);
}

/** Fraction of a phase's sessions still in progress one minute later. */
export function survivalPerMinute(mix: SessionMix): number[] {
  return mix.phases.map((p) => Math.exp(-1 / p.meanMin));
}

/**
 * What a host's agent needs to tell how many of its calls will outlast a drain limit: each
 * phase's share of calls and its survival per minute (survivalPerMinute), rendered into the
 * agent's config so the host and the replay read one table.
 */
export interface SurvivalTable {
  limitMin: number;
  phases: { share: number; survivalPerMinute: number }[];
}

export function survivalTable(mix: SessionMix, limitMin: number): SurvivalTable {
  const survive = survivalPerMinute(mix);
  return {
    limitMin,
    phases: mix.phases.map((p, k) => ({ share: p.share, survivalPerMinute: survive[k] })),
  };
}

/**
 * Calls expected to be still running `table.limitMin` minutes from now, given how long each
 * open call has lasted (minutes). A call that has lasted a minutes is in phase k with odds
 * share_k · s_k^a (the longer it ran, the likelier it is a long one), and lasts the limit more
 * with s_k^limit: in expectation, what the replay's phase counts give (Pool.leftAtLimit). The
 * odds are taken in logs, so a call of days does not underflow every phase to nothing. The
 * host agent computes the same (host-agent gcp.py expected_left), held equal by its test.
 */
export function expectedLeft(table: SurvivalTable, agesMin: number[]): number {
  let left = 0;
  for (const age of agesMin) {
    const logs = table.phases.map((p) => Math.log(p.share) + age * Math.log(p.survivalPerMinute));
    const top = Math.max(...logs);
    let odds = 0;
    let stays = 0;
    table.phases.forEach((p, k) => {
      const w = Math.exp(logs[k] - top);
      odds += w;
      stays += w * p.survivalPerMinute ** table.limitMin;
    });
    left += stays / odds;
  }
  return left;
}

/** A spike the team knows about in advance (a launch, a broadcast): part of the calendar. */
export interface DemandEvent {
  /** Day of the trace (0 = the first Monday). */
  day: number;
  /** Local hour the ramp starts. */
  hour: number;
  durationMin: number;
  /** Demand multiplier at the plateau. */
  factor: number;
}

export interface CurveSpec {
  region: string;
  /** Local time = UTC + this. */
  utcOffsetHours: number;
  /** Concurrent sessions at a weekday's peak in the first week. */
  peakSessions: number;
  /** Local hour of the daily peak. */
  peakHour: number;
  /** Demand at the night trough as a share of the peak. */
  troughShare: number;
  /** Saturday and Sunday demand relative to weekdays. */
  weekendFactor: number;
  /** Growth per week, e.g. 0.02. */
  weeklyGrowth: number;
  events: DemandEvent[];
  /** Relative size of the minute-to-minute noise, e.g. 0.03. */
  noise: number;
  seed: number;
}

export interface Trace {
  region: string;
  utcOffsetHours: number;
  /** Concurrent sessions the curve asks for, per minute (what a dashboard would show). */
  sessions: Float64Array;
  /** Joins per minute that produce `sessions` under the session mix. */
  joins: Float64Array;
  /** Known events, in trace minutes: [start, end) of each ramp-and-plateau. */
  events: { start: number; end: number; factor: number }[];
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RAMP_MIN = 30;

/** An event's multiplier at a minute: a 30-minute ramp up, the plateau, a ramp down. */
function eventFactor(events: Trace["events"], minute: number): number {
  let factor = 1;
  for (const e of events) {
    if (minute < e.start - RAMP_MIN || minute >= e.end + RAMP_MIN) continue;
    const up = Math.min(1, (minute - (e.start - RAMP_MIN)) / RAMP_MIN);
    const down = Math.min(1, (e.end + RAMP_MIN - minute) / RAMP_MIN);
    factor = Math.max(factor, 1 + (e.factor - 1) * Math.min(up, down));
  }
  return factor;
}

/**
 * The diurnal shape at a local hour: one smooth hump around the peak hour, sharpened so that
 * evenings stand out, never below the trough.
 */
export function diurnalShare(localHour: number, spec: Pick<CurveSpec, "peakHour" | "troughShare">) {
  const phase = (2 * Math.PI * (localHour - spec.peakHour)) / 24;
  const hump = ((1 + Math.cos(phase)) / 2) ** 1.6;
  return spec.troughShare + (1 - spec.troughShare) * hump;
}

/** The trough share whose daily mean gives the fleet's peak-to-average ratio. */
function troughFor(peakToAverage: number): number {
  const meanAt = (trough: number) => {
    let sum = 0;
    for (let h = 0; h < 24; h += 0.25)
      sum += diurnalShare(h, { peakHour: 20, troughShare: trough });
    return sum / 96;
  };
  let [lo, hi] = [0, 1];
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (meanAt(mid) < 1 / peakToAverage) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * A region's demand curve from what a fleet spec knows: its peak at 20:00 local time, the daily
 * shape its peak-to-average ratio implies, weekends at 85 %, no growth, 3 % noise, and the
 * calendar's events.
 */
export function demandCurve(
  region: string,
  utcOffsetHours: number,
  peakSessions: number,
  peakToAverage: number,
  events: DemandEvent[],
): CurveSpec {
  return {
    region,
    utcOffsetHours,
    peakSessions,
    peakHour: 20,
    troughShare: troughFor(peakToAverage),
    weekendFactor: 0.85,
    weeklyGrowth: 0,
    events,
    noise: 0.03,
    seed: 1,
  };
}

/**
 * The curve's daily and weekly shape at trace minute `m` (minute 0 is Monday 00:00 UTC):
 * no growth, events or noise — what a forecast from the spec alone can know.
 */
export function curveBase(spec: CurveSpec, m: number): number {
  const local = m + Math.round(spec.utcOffsetHours * 60);
  const weekday = ((Math.floor(local / MINUTES_PER_DAY) % 7) + 7) % 7; // 0 = Monday
  const hour = (((local % MINUTES_PER_DAY) + MINUTES_PER_DAY) % MINUTES_PER_DAY) / 60;
  return spec.peakSessions * diurnalShare(hour, spec) * (weekday >= 5 ? spec.weekendFactor : 1);
}

/** Minute 0 is Monday 00:00 UTC. */
export function curveTrace(spec: CurveSpec, days: number, mix = MEDIA_SESSIONS): Trace {
  const minutes = days * MINUTES_PER_DAY;
  const offset = Math.round(spec.utcOffsetHours * 60);
  const events = spec.events.map((e) => {
    const start = e.day * MINUTES_PER_DAY + e.hour * 60 - offset;
    return { start, end: start + e.durationMin, factor: e.factor };
  });
  const random = rng(spec.seed);
  const sessions = new Float64Array(minutes);
  let wobble = 0;
  for (let m = 0; m < minutes; m++) {
    // AR(1) noise: minutes that are alike, as real demand is.
    wobble = 0.97 * wobble + 0.03 * (random() * 2 - 1) * 8;
    sessions[m] =
      curveBase(spec, m) *
      (1 + spec.weeklyGrowth) ** (m / MINUTES_PER_WEEK) *
      eventFactor(events, m) *
      Math.max(0.5, 1 + spec.noise * wobble);
  }
  return {
    region: spec.region,
    utcOffsetHours: spec.utcOffsetHours,
    sessions,
    events,
    joins: joinsFor(sessions, mix),
  };
}

/**
 * Joins per minute that make the expected concurrency follow `sessions`: each minute the
 * phases decay, and the joins make up the difference (never negative: when demand falls
 * faster than calls end, nobody joins).
 */
export function joinsFor(sessions: Float64Array, mix = MEDIA_SESSIONS): Float64Array {
  const survive = survivalPerMinute(mix);
  const mean = meanSessionMin(mix);
  // Start in the steady state of the first minute's demand.
  const inPhase = mix.phases.map((p) => (sessions[0] * p.share * p.meanMin) / mean);
  const joins = new Float64Array(sessions.length);
  for (let m = 0; m < sessions.length; m++) {
    let left = 0;
    for (let k = 0; k < inPhase.length; k++) left += inPhase[k] * survive[k];
    const wanted = m + 1 < sessions.length ? sessions[m + 1] : sessions[m];
    joins[m] = Math.max(0, wanted - left);
    for (let k = 0; k < inPhase.length; k++) {
      inPhase[k] = inPhase[k] * survive[k] + joins[m] * mix.phases[k].share;
    }
  }
  return joins;
}
