/**
 * The RTT model against the repository's own published round trips (AWS 2017, Azure P50 2025,
 * IBM Cloud VPC 2026): the model's relative error on every pair it was fitted to, on each pair
 * left out of the fit (leave-one-out), and on each source left out (fitted to the others);
 * beside it the single line the placement used before (1.36 × fibre over the great circle +
 * 16 ms). Prints per source and per distance band, the worst pairs, then the summary line.
 */
import { loadRttFiles, SHIPPED_RTT_FILES } from "../modules/latency/load";
import {
  fitRttModel,
  leaveOneOutErrors,
  normalEquations,
  piecewiseMs,
  quantile,
  relativeError,
  samplesOf,
  solveFit,
  type Sample,
} from "../modules/latency/rtt";

/** The model before #28: great-circle km × 1.36 × 0.01 ms/km + 16 ms, fitted to 14 AWS pairs. */
const LINE = (km: number) => km * 1.36 * 0.01 + 16;

function stats(errors: number[]): string {
  if (!errors.length) return "-";
  return `median ${(100 * quantile(errors, 0.5)).toFixed(1)} % p90 ${(100 * quantile(errors, 0.9)).toFixed(1)} %`;
}

function main() {
  const files = loadRttFiles(SHIPPED_RTT_FILES);
  const model = fitRttModel(files);
  const samples = samplesOf(files);
  const fitted = samples.map((s) =>
    relativeError(piecewiseMs(model.fit, s.route.km), s.published.ms),
  );
  const line = samples.map((s) => relativeError(LINE(s.route.greatCircleKm), s.published.ms));
  const started = performance.now();
  const loo = leaveOneOutErrors(samples);
  const looSeconds = (performance.now() - started) / 1000;
  const labels = [...new Set(samples.map((s) => s.published.label))];
  const heldOut = new Map<Sample, number>();
  for (const label of labels) {
    const fit = solveFit(normalEquations(samples.filter((s) => s.published.label !== label)));
    for (const s of samples.filter((x) => x.published.label === label))
      heldOut.set(s, relativeError(piecewiseMs(fit, s.route.km), s.published.ms));
  }
  const pick = (errors: number[], keep: (s: Sample) => boolean) =>
    errors.filter((_, i) => keep(samples[i]));

  console.log(
    `model: knots ${model.fit.knotsKm.join("/")} km, coef ${model.fit.coef.map((c) => c.toPrecision(4)).join(" ")}`,
  );
  console.log(
    "source                  pairs  model (fitted)            leave-one-out             source held out           old line",
  );
  for (const label of [...labels, "all"]) {
    const keep = (s: Sample) => label === "all" || s.published.label === label;
    const n = samples.filter(keep).length;
    console.log(
      `${label.padEnd(22)} ${String(n).padStart(6)}  ${stats(pick(fitted, keep)).padEnd(25)} ${stats(pick(loo, keep)).padEnd(25)} ${stats(samples.filter(keep).map((s) => heldOut.get(s)!)).padEnd(25)} ${stats(pick(line, keep))}`,
    );
  }
  console.log(
    "great circle            pairs  model (fitted)            leave-one-out             detoured  old line",
  );
  for (const [lo, hi] of [
    [0, 1500],
    [1500, 5000],
    [5000, 10000],
    [10000, Infinity],
  ]) {
    const keep = (s: Sample) => s.route.greatCircleKm >= lo && s.route.greatCircleKm < hi;
    const n = samples.filter(keep).length;
    const detoured = samples.filter((s) => keep(s) && s.route.via.length).length;
    console.log(
      `${`${lo}–${hi === Infinity ? "" : hi} km`.padEnd(22)} ${String(n).padStart(6)}  ${stats(pick(fitted, keep)).padEnd(25)} ${stats(pick(loo, keep)).padEnd(25)} ${String(detoured).padStart(8)}  ${stats(pick(line, keep))}`,
    );
  }
  console.log(
    "worst pairs (leave-one-out): from  to  published ms  model ms  great-circle km  route km  via",
  );
  samples
    .map((s, i) => ({ s, e: loo[i] }))
    .sort((a, b) => b.e - a.e)
    .slice(0, 10)
    .forEach(({ s }) =>
      console.log(
        `  ${s.published.from}  ${s.published.to}  ${s.published.ms}  ${piecewiseMs(model.fit, s.route.km).toFixed(1)}  ${Math.round(s.route.greatCircleKm)}  ${Math.round(s.route.km)}  ${s.route.via.join(">") || "direct"}`,
      ),
    );
  const held = [...heldOut.values()];
  console.log(
    `rtt_pairs=${samples.length} median_rel_err=${quantile(fitted, 0.5).toFixed(3)} p90_rel_err=${quantile(fitted, 0.9).toFixed(3)} loo_median_rel_err=${quantile(loo, 0.5).toFixed(3)} loo_p90_rel_err=${quantile(loo, 0.9).toFixed(3)} heldout_source_median_rel_err=${quantile(held, 0.5).toFixed(3)} old_line_median_rel_err=${quantile(line, 0.5).toFixed(3)} loo_seconds=${looSeconds.toFixed(2)}`,
  );
}

main();
