/** avfleet place — where to run media pools, and the stack changes that do it. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { DEFAULT_STACKS_DIR, stackFileName } from "../../modules/stacks/stack";
import { assertNoProblems, formatProblems } from "../../modules/inputs/problems";
import { buildInstance } from "../../modules/siting/instance";
import { loadRttFiles, SHIPPED_RTT_FILES } from "../../modules/latency/load";
import { loadDemand, loadSites, measuredPairProblems } from "../../modules/siting/load";
import { placementSvg } from "../../modules/placement/map";
import { readPairsCsv } from "../../modules/latency/pairs";
import { metroTable, siteTable, summaryLine } from "../../modules/placement/report";
import {
  backboneRtt,
  describeModel,
  fitRttModel,
  piecewiseMs,
  publishedPairs,
} from "../../modules/latency/rtt";
import { rttSensitivity, sensitivityLines } from "../../modules/siting/sensitivity";
import { place } from "../../modules/siting/solve";
import { proposalBreaks } from "../../modules/placement/check";
import { proposeStacks, trafficSplits, type StackChange } from "../../modules/placement/stacks";
import { loadRunbook } from "../../modules/runbook/runbook";
import { EXIT, parseCommandArgs, progress, UsageError, type Command } from "../cli";

/** `diff -u` of a change against today's file (or nothing, for a new stack). */
function unifiedDiff(change: StackChange, written: string, stacksDir: string): string {
  const today = change.before === undefined ? "/dev/null" : stackFileName(stacksDir, change.stack);
  const label = `stacks/Pulumi.${change.stack}.yaml`;
  const result = spawnSync(
    "diff",
    [
      "-u",
      "--label",
      change.before === undefined ? "/dev/null" : `a/${label}`,
      "--label",
      `b/${label}`,
      today,
      written,
    ],
    { encoding: "utf8" },
  );
  if (result.status !== 0 && result.status !== 1)
    throw new Error(`diff failed: ${result.stderr || result.error}`);
  return result.stdout;
}

function number(name: string, text: string | undefined, fallback: number, zero = false): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !zero) || text.trim() === "")
    throw new UsageError(
      `--${name} is "${text}", expected a ${zero ? "non-negative" : "positive"} number`,
    );
  return value;
}

const RTT_HELP = `avfleet place rtt — the RTT the placement assumes for each pair of a CSV.

Usage: avfleet place rtt --pairs FILE.csv [--rtt FILE ...] [--json]

Prints the RTT the placement assumes for each pair of FILE.csv: the published figure when
both ends are within 100 km of two points of the RTT files that have one (source and date
shown), else the model's (piecewise linear in the length of the route — the great circle, or
a detour through the backbone hubs the published figures show, listed under "via") — and the
client RTT the placement uses (+ the files' last-mile term). Published pairs also show what
the model alone would say.

FILE.csv: a header naming columns among from, to (a region of the RTT files, e.g. westeurope,
us-east-1, eu-de) and from_lat, from_lon, to_lat, to_lon (decimal degrees); each end of each
row is a name or a latitude and longitude. Example:
  from,to_lat,to_lon
  westeurope,52.52,13.40

--rtt FILE (repeatable): RTT files (default: the shipped AWS, Azure P50 and IBM Cloud VPC
matrices).

Exit 2 on a bad file (file, line, what was expected), nothing printed.

Options:
  --json   {"model","pairs":[{"line","from","to","greatCircleKm","routeKm","via","backboneMs","clientMs","basis","source","citation","date","publishedPair","modelMs"}]}`;

async function rttCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    pairs: { type: "string" },
    rtt: { type: "string", multiple: true },
    json: { type: "boolean" },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (!values.pairs) throw new UsageError("--pairs FILE.csv is required");
  const model = fitRttModel(loadRttFiles(values.rtt ?? SHIPPED_RTT_FILES));
  const input = readPairsCsv(values.pairs, model.matrix.points);
  const label = (p: { name?: string; lat: number; lon: number }) => p.name ?? `${p.lat},${p.lon}`;
  const pairs = input.map(({ line, from, to }) => {
    const rtt = backboneRtt(model, from, to);
    return {
      line,
      from,
      to,
      greatCircleKm: rtt.route.greatCircleKm,
      routeKm: rtt.route.km,
      via: rtt.route.via,
      backboneMs: rtt.ms,
      clientMs: rtt.ms + model.lastMileMs,
      basis: rtt.basis,
      source: rtt.basis === "published" ? rtt.published.label : undefined,
      citation: rtt.basis === "published" ? rtt.published.source : undefined,
      date: rtt.basis === "published" ? rtt.published.date : undefined,
      publishedPair: rtt.basis === "published" ? [rtt.published.from, rtt.published.to] : undefined,
      modelMs: piecewiseMs(model.fit, rtt.route.km),
    };
  });
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ model: describeModel(model), lastMileMs: model.lastMileMs, pairs }, null, 2)}\n`,
    );
    return EXIT.ok;
  }
  const rows = pairs.map((p) => [
    label(p.from),
    label(p.to),
    Math.round(p.greatCircleKm).toLocaleString("en-US"),
    p.via.length
      ? `${Math.round(p.routeKm).toLocaleString("en-US")} via ${p.via.join(">")}`
      : "direct",
    p.backboneMs.toFixed(1),
    p.clientMs.toFixed(1),
    p.basis === "published"
      ? `published ${p.source} ${p.date}${p.publishedPair!.join("–") === `${p.from.name}–${p.to.name}` || p.publishedPair!.join("–") === `${p.to.name}–${p.from.name}` ? "" : ` (${p.publishedPair!.join("–")})`}; model ${p.modelMs.toFixed(1)}`
      : "model",
  ]);
  const header = ["from", "to", "km", "route", "backbone ms", "client ms", "basis"];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const format = (r: string[]) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c])))
      .join("  ")
      .trimEnd();
  const published = pairs.filter((p) => p.basis === "published").length;
  process.stdout.write(
    [
      `RTT: ${describeModel(model)}`,
      "",
      format(header),
      ...rows.map(format),
      "",
      `place rtt: ${pairs.length} pairs, ${published} published, ${pairs.length - published} from the model; client ms = backbone + last mile ${model.lastMileMs} ms`,
      "",
    ].join("\n"),
  );
  return EXIT.ok;
}

export const command: Command = {
  summary: "choose edge sites for a latency budget at least cost, and the stacks that do it",
  help: `
Usage: avfleet place --demand FILE --sites FILE [--p95-ms 50] [--survive-site-loss]
                     [--loss-p95-ms MS] [--max-ms MS] [--rtt FILE ...] [--rtt-sensitivity 20]
                     [--solver auto|exact|heuristic] [--out DIR] [--stacks-dir DIR]
                     [--runbooks-dir DIR] [--json]
       avfleet place rtt --pairs FILE.csv [--rtt FILE ...] [--json]   (below)

Chooses which candidate sites to open, each metro's primary (and, with --survive-site-loss,
fallback) site and the hosts per site, minimizing monthly cost (hosts + egress + fixed) so
that the session-weighted p95 client RTT stays within --p95-ms, every site stays within its
maxHosts at peak (with the capacity module's N+1 per failure domain) and, with
--survive-site-loss, the p95 stays within --loss-p95-ms (default 1.5 × budget) with any one
site lost, each site sized for its worst single-site loss. The p95 lets 5 % of sessions
exceed the budget; --max-ms (default 2 × budget) caps any metro's RTT to its primary and fallback sites.

RTT: measurements first — a published round trip wherever a metro and a site are each within
100 km of two points of the --rtt files that have one; elsewhere a model piecewise linear in
the length of the route (the great circle, or a detour through the backbone hubs the published
figures show), fitted to all the published pairs; plus the files' last-mile term. clientP95
pairs replace both. --rtt is repeatable (default: the shipped AWS, Azure P50 and IBM Cloud VPC
matrices). \`avfleet place rtt --pairs FILE.csv\` prints what it assumes for any pair.

Sensitivity: the placement is solved again with every RTT × (1 ± --rtt-sensitivity/100)
(default 20; 0 skips) and the budget unchanged; the report says which sites open or close,
which metros move and what it costs, or that nothing fits.

Solver: exact (HiGHS MILP) up to 12 sites and 6000 assignment variables, else the heuristic
(greedy + local search), whose gap is bounded against a lower bound.

Writes to --out (default .avfleet/placement): map.svg, placement.json and stacks/ with the
proposed stack files (new sites, resized sites, geo-steered traffic splits); prints each as
a diff against --stacks-dir. Nothing in stacks/ is changed: review, then copy. An existing
stack file changes only at the keys the proposal sets (comments, flow style and the order of
everything else stay as written); a new one is its template without the template's comments.

Cross-check: the proposed files are checked against today's traffic splits and the runbooks
in --runbooks-dir (default runbooks; each validated as \`migrate plan\` does): a split made
geo-steered while a runbook shifts it by weight, a pool moved more than maxStepPct at once,
runbook steps the proposed weights would skip ("already at") or turn into one jump, a pool
capped below the hosts a runbook scales it to. Each is printed as file: key: why, and the
proposal is still written for review.

Exit 1 when no placement meets the constraints or the proposal would break a split or a
runbook; 2 on bad input (nothing written).

Options:
  --json   {"solver","status","gapBoundPct","seconds","rttModel","monthlyUsd","p95Ms","lossP95Ms","sites","metros","sensitivity","changes","notes","breaks"}

${RTT_HELP}`,
  async run(argv) {
    if (argv[0] === "rtt") return rttCommand(argv.slice(1));
    const { values, positionals } = parseCommandArgs(argv, {
      demand: { type: "string" },
      sites: { type: "string" },
      rtt: { type: "string", multiple: true },
      "rtt-sensitivity": { type: "string" },
      "p95-ms": { type: "string" },
      "loss-p95-ms": { type: "string" },
      "max-ms": { type: "string" },
      "survive-site-loss": { type: "boolean" },
      solver: { type: "string" },
      out: { type: "string" },
      "stacks-dir": { type: "string" },
      "runbooks-dir": { type: "string" },
      json: { type: "boolean" },
    });
    if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
    if (!values.demand || !values.sites)
      throw new UsageError("--demand FILE and --sites FILE are required");
    const solver = values.solver ?? "auto";
    if (!["auto", "exact", "heuristic"].includes(solver)) {
      throw new UsageError(`--solver is "${solver}", expected auto, exact or heuristic`);
    }
    const budgetMs = number("p95-ms", values["p95-ms"], 50);
    const survive = values["survive-site-loss"] ?? false;
    const lossBudgetMs = number("loss-p95-ms", values["loss-p95-ms"], budgetMs * 1.5);
    const maxMs = number("max-ms", values["max-ms"], budgetMs * 2);
    const stacksDir = values["stacks-dir"] ?? DEFAULT_STACKS_DIR;
    const out = values.out ?? join(".avfleet", "placement");
    const rttFiles = values.rtt ?? SHIPPED_RTT_FILES;
    const sensitivityPct = number("rtt-sensitivity", values["rtt-sensitivity"], 20, true);
    if (sensitivityPct >= 100)
      throw new UsageError(
        `--rtt-sensitivity is ${sensitivityPct}, expected a percentage below 100`,
      );

    const demand = loadDemand(values.demand);
    const sitesFile = loadSites(values.sites);
    const rtts = loadRttFiles(rttFiles);
    rtts.forEach((rtt, f) =>
      assertNoProblems(rttFiles[f], measuredPairProblems(rtt, demand, sitesFile)),
    );
    const runbooksDir = values["runbooks-dir"] ?? "runbooks";
    if (values["runbooks-dir"] !== undefined && !existsSync(runbooksDir))
      throw new UsageError(`--runbooks-dir ${runbooksDir} does not exist`);
    // Read before solving: a bad runbook is bad input, refused before anything is written.
    const runbooks = existsSync(runbooksDir)
      ? readdirSync(runbooksDir)
          .filter((f) => f.endsWith(".yaml"))
          .sort()
          .map((f) => loadRunbook(join(runbooksDir, f), stacksDir))
      : [];
    const model = fitRttModel(rtts);
    const instance = buildInstance(
      demand,
      sitesFile.sites,
      model,
      budgetMs,
      survive ? lossBudgetMs : undefined,
      maxMs,
    );
    const published = publishedPairs(model, instance.metros, instance.sites);
    progress(`place: ${instance.metros.length} metros, ${instance.sites.length} sites, solving`);
    const run = await place(instance, { survive, solver: solver as "auto" });
    if (!run.solution) {
      process.stderr.write(
        `place: ${run.solver} solver: ${run.status}: no placement meets p95 ≤ ${budgetMs} ms${survive ? ` and ≤ ${lossBudgetMs} ms with a site lost` : ""} within the sites' capacity\n`,
      );
      return EXIT.findings;
    }
    const { placement, evaluation } = run.solution;
    const scales = sensitivityPct > 0 ? [1 - sensitivityPct / 100, 1 + sensitivityPct / 100] : [];
    if (scales.length) progress(`place: solving again with every RTT ±${sensitivityPct} %`);
    const sensitivity = await rttSensitivity(instance, run, {
      survive,
      solver: solver as "auto",
      scales,
    });
    const proposal = proposeStacks(instance, evaluation, stacksDir);
    mkdirSync(join(out, "stacks"), { recursive: true });
    const title = `avfleet place: ${evaluation.sites.filter((s) => s.hosts > 0).length} sites, p95 ${evaluation.p95Ms.toFixed(0)} ms ≤ ${budgetMs} ms, $${Math.round(evaluation.monthlyUsd).toLocaleString("en-US")}/month (${run.solver})`;
    writeFileSync(join(out, "map.svg"), placementSvg(instance, placement, evaluation, title));
    const diffs = proposal.changes.map((change) => {
      const file = join(out, "stacks", `Pulumi.${change.stack}.yaml`);
      writeFileSync(file, change.after);
      return { ...change, file, diff: unifiedDiff(change, file, stacksDir) };
    });
    const breaks = formatProblems(proposalBreaks(diffs, trafficSplits(stacksDir), runbooks));
    const report = {
      solver: run.solver,
      status: run.status,
      gapBoundPct: run.gapBoundPct,
      seconds: run.seconds,
      rttModel: {
        description: describeModel(model),
        publishedPairs: published,
        pairs: instance.metros.length * instance.sites.length,
        knotsKm: model.fit.knotsKm,
        coef: model.fit.coef,
        quality: model.quality,
        lastMileMs: model.lastMileMs,
        sources: model.sources.map(({ label, date, pairs }) => ({ label, date, pairs })),
        files: rttFiles.map((f) => relative(process.cwd(), f)),
      },
      monthlyUsd: evaluation.monthlyUsd,
      p95Ms: evaluation.p95Ms,
      lossP95Ms: evaluation.lossP95Ms,
      sites: instance.sites.map((site, s) => ({
        name: site.name,
        stack: site.spec.stack,
        exists: site.spec.exists,
        ...evaluation.sites[s],
      })),
      metros: instance.metros.map((m, i) => ({
        name: m.name,
        sessions: m.peakSessions,
        primary: instance.sites[placement.primary[i]].name,
        rttMs: instance.rtt[i][placement.primary[i]],
        fallback: placement.fallback ? instance.sites[placement.fallback[i]].name : undefined,
        fallbackRttMs: placement.fallback ? instance.rtt[i][placement.fallback[i]] : undefined,
      })),
      sensitivity,
      changes: diffs.map((d) => ({ stack: d.stack, file: d.file, why: d.why, diff: d.diff })),
      notes: proposal.notes,
      breaks,
    };
    writeFileSync(join(out, "placement.json"), `${JSON.stringify(report, null, 2)}\n`);
    const exit = breaks.length > 0 ? EXIT.findings : EXIT.ok;
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return exit;
    }
    const lines = [
      `RTT: ${describeModel(model)}`,
      `RTT: ${published} of ${instance.metros.length * instance.sites.length} metro–site pairs from published figures, the others from the model`,
      "",
      siteTable(instance, evaluation),
      "",
      metroTable(instance, placement),
      "",
      `map: ${join(out, "map.svg")}`,
      "",
      ...diffs.flatMap((d) => [`# ${d.why}`, d.diff]),
      ...proposal.notes.map((n) => `note: ${n}`),
      ...sensitivityLines(sensitivity, evaluation.monthlyUsd),
      ...(breaks.length > 0
        ? [
            `place: the proposal would break ${breaks.length} thing${breaks.length === 1 ? "" : "s"} in the splits and runbooks that name its pools:`,
            ...breaks.map((b) => `  ${b}`),
          ]
        : []),
      summaryLine(instance, run),
      "",
    ];
    process.stdout.write(lines.join("\n"));
    return exit;
  },
};
