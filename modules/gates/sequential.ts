/**
 * The sequential test behind relative gates: a confidence sequence around an estimate θ̂ of an
 * effect θ, approximately normal with variance V, whose ends hold at every look of a bake at
 * once, each with probability at least 1 − alpha. Its low end above 0 rejects H0: θ ≤ 0 (a
 * rollback); its high end below 0 rejects θ ≥ 0 (a promotion); across 0 the bake goes on.
 *
 * The two ends answer different needs, so they have different boundaries:
 * - A rollback must come at the first look the evidence allows, however long the bake: a
 *   mixture sequential probability ratio test (mSPRT: Johari, Koomen, Pekelis, Walsh, "Always
 *   valid inference", Operations Research 2022), read as a confidence sequence (Howard, Ramdas,
 *   McAuliffe, Sekhon, Ann. Statist. 2021). With the mixture over θ being N(0, τ²),
 *     Λ = sqrt(V / (V + τ²)) · exp(τ² θ̂² / (2 V (V + τ²)))
 *   and Λ ≥ 1/alpha exactly when |θ̂| ≥ w, its half-width.
 * - A promotion can wait for the bake's evidence, and at 1 % of traffic that evidence comes late:
 *   the mixture, valid for ever, needs 3.6 standard errors at 90 minutes and held 1 healthy 1 %
 *   bake in 20 for a human (bench:gates). When the bake's horizon (maxBake) is known, alpha is
 *   spent over it as O'Brien and Fleming's boundary spends it (Lan and DeMets, "Discrete
 *   sequential boundaries for clinical trials", Biometrika 1983, calendar time as information
 *   time): half-width z(1 − alpha/2) · √V / √share. Under θ = 0 the score θ̂/V is a Brownian
 *   motion in the information 1/V; when information grows with the bake's time the boundary is a
 *   constant level for it, which a Brownian motion crosses by the horizon with probability
 *   2(1 − Φ(z)) = alpha (the reflection principle) — over any looks at all: every minute, every
 *   five, a resumed run's extra one. Information that arrives early (a pool already carrying
 *   calls) only makes it stricter. It spends almost nothing early and leaves the last looks
 *   2.58 standard errors at confidence 0.99. Without a horizon the high end is the mixture's.
 *   V is itself estimated, its minute term from the bake's minutes so far (a handful early on),
 *   and z on an estimated V crosses more often than alpha (a 30-minute bake looked at every 5
 *   minutes: 1.3 % at confidence 0.99, compare.test.ts). So the level is Student's t at V's
 *   Welch–Satterthwaite degrees of freedom (compare.ts welchDf), z once they are many.
 */

/**
 * An estimate of an effect, its variance, and the mixture's spread τ, all in one unit; `df`:
 * the degrees of freedom the variance was estimated with, when few (welchDf).
 */
export interface Estimate {
  theta: number;
  variance: number;
  tau: number;
  df?: number;
}

const horner = (coefficients: number[], x: number) =>
  coefficients.reduce((acc, k) => acc * x + k, 0);

/**
 * Pure: the standard normal distribution function Φ, from erfc by the Chebyshev fit Numerical
 * Recipes gives as erfcc (relative error below 1.2e-7 everywhere, tails included).
 */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const fit = [
    0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418,
    0.37409196, 1.00002368, -1.26551223,
  ];
  const erfc = t * Math.exp(-z * z + horner(fit, t));
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** Pure: the standard normal quantile Φ⁻¹(p), 0 < p < 1 (P. J. Acklam's, relative error 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972,
    -13.28068155288572, 1,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734,
    4.374664141464968, 2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416, 1];
  const tail = (q: number) => horner(c, q) / horner(d, q);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  return (horner(a, q * q) * q) / horner(b, q * q);
}

/**
 * Pure: Student's t quantile for `df` degrees of freedom (the normal's when df is unknown). From
 * 4 on, the Cornish–Fisher expansion around the normal quantile (Abramowitz and Stegun 26.7.5;
 * at df 4 and p 0.995 0.2 % short, at 10 0.003 %); below, the closed forms of df 1 (Cauchy) and
 * 2, a df between taken at the integer below it: wider, never narrower.
 */
export function tQuantile(p: number, df?: number): number {
  const z = normalQuantile(p);
  if (df === undefined || !(df < 1e6)) return z;
  if (df < 2) return Math.tan(Math.PI * (p - 0.5));
  if (df < 4) return (2 * p - 1) / Math.sqrt(2 * p * (1 - p));
  const z2 = z * z;
  const terms = [
    ((z2 + 1) * z) / 4,
    (((5 * z2 + 16) * z2 + 3) * z) / 96,
    ((((3 * z2 + 19) * z2 + 17) * z2 - 15) * z) / 384,
    (((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z) / 92160,
  ];
  return terms.reduce((t, g, i) => t + g / df ** (i + 1), z);
}

/**
 * Pure: the half-width of the always-valid (1 − alpha) mixture sequence around θ̂. Zero
 * variance gives zero width: the caller decides whether it believes a sample without spread.
 */
export function halfWidth({ variance: v, tau }: Estimate, alpha: number): number {
  if (!(v > 0)) return 0;
  const t2 = tau * tau;
  return Math.sqrt(((2 * v * (v + t2)) / t2) * (Math.log(1 / alpha) + 0.5 * Math.log(1 + t2 / v)));
}

/**
 * Pure: the half-width of the boundary that spends alpha over a bake, `share` of it gone
 * (elapsed ÷ maxBake; beyond 1, the last look's): z(1 − alpha/2) · √V / √share.
 */
export function spendingHalfWidth(
  variance: number,
  alpha: number,
  share: number,
  df?: number,
): number {
  if (!(variance > 0)) return 0;
  return (tQuantile(1 - alpha / 2, df) * Math.sqrt(variance)) / Math.sqrt(Math.min(1, share));
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
 * reject: the sequence lies above 0 (worse by more than the floor) — its low end is always the
 * mixture's, so a rollback comes at the first look the evidence allows, and a large effect at
 * 25 % rolls back in five minutes; accept: it lies below 0 (not worse by the floor) — its high
 * end spends alpha over the bake when `share` (elapsed ÷ maxBake) is known, else the mixture's;
 * continue: it spans 0. Each side errs with probability at most alpha. The always-valid
 * p-value of H0 is min(1, 1/Λ) when θ̂ > 0, else 1.
 */
export function decide(
  estimate: Estimate,
  alpha: number,
  share?: number,
): { decision: Decision; low: number; high: number; pValue: number } {
  const mixture = halfWidth(estimate, alpha);
  const low = estimate.theta - mixture;
  const high =
    estimate.theta +
    (share === undefined
      ? mixture
      : spendingHalfWidth(estimate.variance, alpha, share, estimate.df));
  const pValue = estimate.theta > 0 ? Math.min(1, Math.exp(-logMixtureRatio(estimate))) : 1;
  const decision = low > 0 ? "reject" : high < 0 ? "accept" : "continue";
  return { decision, low, high, pValue };
}
