/**
 * The lifecycle matrix (modules/lifecycle) over this project's fleets as rendered: each way a
 * host leaves, fails, updates or scales, on GCP, AWS and bare metal, through the providers'
 * documented rules. Prints a row per scenario and platform (summed over the estate's pools),
 * the rules cited, and a last line:
 * `lifecycle: scenarios= providers= calls_cut= churned_hosts= seconds_past_limit= cited_rules=`.
 * `--root DIR` judges another checkout's rendering (e.g. a worktree of an earlier commit).
 */
import { lifecycleEstate } from "./lifecycle";
import { runMatrix, SCENARIOS, type ScenarioResult } from "../modules/lifecycle/scenarios";
import { ALL_RULES } from "../modules/providers/rules";

async function main(): Promise<void> {
  const started = Date.now();
  process.stderr.write("lifecycle: evaluating the fleet stacks and their variants...\n");
  const at = process.argv.indexOf("--root");
  const estate = await lifecycleEstate(undefined, at > 0 ? process.argv[at + 1] : undefined);
  const results = runMatrix(estate);
  const cells = new Map<string, ScenarioResult[]>();
  for (const r of results) {
    const key = `${r.scenario}\t${r.kind}`;
    cells.set(key, [...(cells.get(key) ?? []), r]);
  }
  const sum = (rows: ScenarioResult[], k: keyof ScenarioResult) =>
    rows.reduce((n, r) => n + (r[k] as number), 0);
  console.log(
    `${"scenario".padEnd(26)} ${"platform".padEnd(8)} pools  cut  at_limit  lost_to_fault  churned  past_limit_s  failed_ups  rules`,
  );
  for (const [key, rows] of cells) {
    const [scenario, kind] = key.split("\t");
    const rules = new Set(rows.flatMap((r) => r.rules));
    console.log(
      `${scenario.padEnd(26)} ${kind.padEnd(8)} ${String(rows.length).padStart(5)} ${String(sum(rows, "callsCut")).padStart(4)} ${String(sum(rows, "callsCutAtLimit")).padStart(9)} ${String(sum(rows, "callsLostToFault")).padStart(14)} ${String(sum(rows, "churnedHosts")).padStart(8)} ${String(sum(rows, "secondsPastLimit")).padStart(13)} ${String(sum(rows, "failedUps")).padStart(11)}  ${[...rules].join(" ")}`,
    );
  }
  const cited = new Set(results.flatMap((r) => r.rules));
  console.log(
    `\nrules cited (${cited.size} of ${ALL_RULES.length}; sources in docs/real-path.md):`,
  );
  for (const rule of ALL_RULES.filter((r) => cited.has(r.id)))
    console.log(`  ${rule.id}: ${rule.source}`);
  const kinds = new Set(results.map((r) => r.kind));
  console.log(
    `\n${SCENARIOS.length} scenarios over ${estate.length} pools (${cells.size} scenario × platform cells) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  console.log(
    `lifecycle: scenarios=${cells.size} providers=${kinds.size} calls_cut=${sum(results, "callsCut")} churned_hosts=${sum(results, "churnedHosts")} seconds_past_limit=${sum(results, "secondsPastLimit")} cited_rules=${cited.size}`,
  );
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(3);
});
