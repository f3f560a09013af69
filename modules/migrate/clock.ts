/** Time, injectable: real for a migration, the world's simulated minutes for a rehearsal. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** The longest single sleep, so an abort is noticed within it while waiting. */
  tickMs: number;
}

export const realClock: Clock = {
  now: () => Date.now(),
  tickMs: 1000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
