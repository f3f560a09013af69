/** avfleet place — where to run media pools, and the stack changes that do it. */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DEFAULT_STACKS_DIR, stackFileName } from "../../modules/config/stack";
import { assertNoProblems } from "../../modules/config/validate";
import { buildInstance } from "../../modules/placement/instance";
import { loadDemand, loadRtt, loadSites, measuredPairProblems } from "../../modules/placement/load";
import { placementSvg } from "../../modules/placement/map";
import { metroTable, siteTable, summaryLine } from "../../modules/placement/report";
import { fitRttModel } from "../../modules/placement/rtt";
import { place } from "../../modules/placement/solve";
import { proposeStacks, type StackChange } from "../../modules/placement/stacks";
import { EXIT, parseCommandArgs, progress, UsageError, type Command } from "../cli";

export const DEFAULT_RTT_FILE = resolve(
  __dirname,
  "../../modules/placement/rtt-aws-inter-region.yaml",
);

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

function number(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new UsageError(`--${name} is "${text}", expected a positive number`);
  return value;
}

export const command: Command = {
  summary: "choose edge sites for a latency budget at least cost, and the stacks that do it",
  help: `
Usage: avfleet place --demand FILE --sites FILE [--p95-ms 50] [--survive-site-loss]
                     [--loss-p95-ms MS] [--max-ms MS] [--rtt FILE] [--solver auto|exact|heuristic]
                     [--out DIR] [--stacks-dir DIR] [--json]

Chooses which candidate sites to open, each metro's primary (and, with --survive-site-loss,
fallback) site and the hosts per site, minimizing monthly cost (hosts + egress + fixed) so
that the session-weighted p95 client RTT stays within --p95-ms, every site stays within its
maxHosts at peak (with the capacity module's N+1 per failure domain) and, with
--survive-site-loss, the p95 stays within --loss-p95-ms (default 1.5 × budget) with any one
site lost, each site sized for its worst single-site loss. The p95 lets 5 % of sessions
exceed the budget; --max-ms (default 2 × budget) caps any metro's RTT to its primary and fallback sites.

RTT: great-circle km × route inflation + a fixed term, fitted to the measured pairs of --rtt
(default: published AWS inter-region RTTs), plus the file's last-mile term; clientP95 pairs
in that file replace the model where measured.

Solver: exact (HiGHS MILP) up to 12 sites and 6000 assignment variables, else the heuristic
(greedy + local search), whose gap is bounded against a lower bound.

Writes to --out (default .avfleet/placement): map.svg, placement.json and stacks/ with the
proposed stack files (new sites, resized sites, geo-steered traffic splits); prints each as
a diff against --stacks-dir. Nothing in stacks/ is changed: review, then copy.

Exit 1 when no placement meets the constraints.

Options:
  --json   {"solver","status","gapBoundPct","seconds","monthlyUsd","p95Ms","lossP95Ms","sites","metros","changes","notes"}`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      demand: { type: "string" },
      sites: { type: "string" },
      rtt: { type: "string" },
      "p95-ms": { type: "string" },
      "loss-p95-ms": { type: "string" },
      "max-ms": { type: "string" },
      "survive-site-loss": { type: "boolean" },
      solver: { type: "string" },
      out: { type: "string" },
      "stacks-dir": { type: "string" },
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
    const rttFile = values.rtt ?? DEFAULT_RTT_FILE;

    const demand = loadDemand(values.demand);
    const sitesFile = loadSites(values.sites);
    const rtt = loadRtt(rttFile);
    assertNoProblems(rttFile, measuredPairProblems(rtt, demand, sitesFile));
    const model = fitRttModel(rtt);
    const instance = buildInstance(
      demand,
      sitesFile.sites,
      model,
      budgetMs,
      survive ? lossBudgetMs : undefined,
      maxMs,
    );
    progress(`place: ${instance.metros.length} metros, ${instance.sites.length} sites, solving`);
    const run = await place(instance, { survive, solver: solver as "auto" });
    if (!run.solution) {
      process.stderr.write(
        `place: ${run.solver} solver: ${run.status}: no placement meets p95 ≤ ${budgetMs} ms${survive ? ` and ≤ ${lossBudgetMs} ms with a site lost` : ""} within the sites' capacity\n`,
      );
      return EXIT.findings;
    }
    const { placement, evaluation } = run.solution;
    const proposal = proposeStacks(instance, evaluation, stacksDir);
    mkdirSync(join(out, "stacks"), { recursive: true });
    const title = `avfleet place: ${evaluation.sites.filter((s) => s.hosts > 0).length} sites, p95 ${evaluation.p95Ms.toFixed(0)} ms ≤ ${budgetMs} ms, $${Math.round(evaluation.monthlyUsd).toLocaleString("en-US")}/month (${run.solver})`;
    writeFileSync(join(out, "map.svg"), placementSvg(instance, placement, evaluation, title));
    const diffs = proposal.changes.map((change) => {
      const file = join(out, "stacks", `Pulumi.${change.stack}.yaml`);
      writeFileSync(file, change.after);
      return { ...change, file, diff: unifiedDiff(change, file, stacksDir) };
    });
    const report = {
      solver: run.solver,
      status: run.status,
      gapBoundPct: run.gapBoundPct,
      seconds: run.seconds,
      rttModel: {
        inflation: model.inflation,
        fixedMs: model.fixedMs,
        lastMileMs: model.lastMileMs,
        fit: model.fit,
        source: rttFile,
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
      changes: diffs.map((d) => ({ stack: d.stack, file: d.file, why: d.why, diff: d.diff })),
      notes: proposal.notes,
    };
    writeFileSync(join(out, "placement.json"), `${JSON.stringify(report, null, 2)}\n`);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return EXIT.ok;
    }
    const lines = [
      `RTT model: ${model.inflation.toFixed(2)} × great-circle fibre time + ${model.fixedMs.toFixed(1)} ms + last mile ${model.lastMileMs} ms (fit on ${model.fit.pairs} measured pairs, RMSE ${model.fit.rmseMs.toFixed(1)} ms)`,
      "",
      siteTable(instance, evaluation),
      "",
      metroTable(instance, placement),
      "",
      `map: ${join(out, "map.svg")}`,
      "",
      ...diffs.flatMap((d) => [`# ${d.why}`, d.diff]),
      ...proposal.notes.map((n) => `note: ${n}`),
      summaryLine(instance, run),
      "",
    ];
    process.stdout.write(lines.join("\n"));
    return EXIT.ok;
  },
};
