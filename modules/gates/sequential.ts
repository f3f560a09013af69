/**
 * The sequential test behind relative gates: a mixture sequential probability ratio test
 * (mSPRT) on a difference of means, as Johari, Koomen, Pekelis and Walsh use for continuously
 * monitored A/B tests ("Always valid inference", Operations Research 2022), read as a confidence
 * sequence (Howard, Ramdas, McAuliffe, Sekhon, "Time-uniform, nonparametric, nonasymptotic
 * confidence sequences", Ann. Statist. 2021): an interval around the estimate that holds at
 * every look at once, with probability at least 1 − alpha.
 *
 * Why this design and not alpha spending: a bake has no fixed number of looks (the bake ends
 * when the evidence is enough, and a resumed run looks again), and an mSPRT needs none; its
 * decision at a look depends only on the evidence up to that look, so each round is a pure
 * function of the window since the weight change. The price is power next to a
 * group-sequential design tuned for one horizon; bench:gates measures what is left.
 *
 * The estimate θ̂ is approximately normal with variance V (the central limit theorem over
 * sessions); the mixture over the effect θ is N(0, τ²). Then
 *   Λ = sqrt(V / (V + τ²)) · exp(τ² θ̂² / (2 V (V + τ²)))
 * and Λ ≥ 1/alpha exactly when |θ̂| ≥ w, the half-width below.
 */

/** An estimate of an effect, its variance, and the mixture's spread τ, all in one unit. */
export interface Estimate {
  theta: number;
  variance: number;
  tau: number;
}

/**
 * Pure: the half-width of the always-valid (1 − alpha) confidence sequence around θ̂. Zero
 * variance gives zero width: the caller decides whether it believes a sample without spread.
 */
export function halfWidth({ variance: v, tau }: Estimate, alpha: number): number {
  if (!(v > 0)) return 0;
  const t2 = tau * tau;
  return Math.sqrt(((2 * v * (v + t2)) / t2) * (Math.log(1 / alpha) + 0.5 * Math.log(1 + t2 / v)));
}

/** Pure: log Λ, the mixture likelihood ratio of θ = 0 against the N(0, τ²) mixture. */
export function logMixtureRatio({ theta, variance: v, tau }: Estimate): number {
  const t2 = tau * tau;
  if (!(v > 0)) return theta === 0 ? 0 : Infinity;
  return 0.5 * Math.log(v / (v + t2)) + (t2 * theta * theta) / (2 * v * (v + t2));
}

export type Decision = "reject" | "accept" | "continue";

/**
 * Pure: the sequential decision on H0: θ ≤ 0 (θ > 0 means worse than the floor).
 * reject: the whole sequence lies above 0 (worse by more than the floor);
 * accept: it lies below 0 (not worse by the floor); continue: it spans 0.
 * The always-valid p-value of H0 is min(1, 1/Λ) when θ̂ > 0, else 1.
 */
export function decide(
  estimate: Estimate,
  alpha: number,
): { decision: Decision; low: number; high: number; pValue: number } {
  const w = halfWidth(estimate, alpha);
  const low = estimate.theta - w;
  const high = estimate.theta + w;
  const pValue = estimate.theta > 0 ? Math.min(1, Math.exp(-logMixtureRatio(estimate))) : 1;
  const decision = low > 0 ? "reject" : high < 0 ? "accept" : "continue";
  return { decision, low, high, pValue };
}
