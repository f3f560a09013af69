/** npm run bench:host — the host rehearsal (bench/host/rehearsal.ts); needs root. */
import { rehearseHosts, summaryLine } from "./host/rehearsal";

async function main() {
  const started = Date.now();
  const result = await rehearseHosts();
  for (const h of [...result.hosts, result.shutdown]) {
    console.log(
      `${(h === result.shutdown ? "gcp-shutdown" : h.kind).padEnd(12)} tuned=${h.tuned} media_after_tuning=${h.mediaAfterTuning} healthy=${h.healthy}` +
        ` unhealthy_while_draining=${h.unhealthyWhileDraining} metric_posts=${h.metricPosts}` +
        ` heartbeats=${h.heartbeats} sessions_at_completion=${h.sessionsAtCompletion} calls_cut=${h.callsCut}` +
        (h.kind === "gcp" && h !== result.shutdown
          ? ` drain_s=${h.drainSeconds} marked_by_scale_in=${h.markedByController}`
          : ""),
    );
  }
  for (const p of result.problems) console.log(`request problem: ${p}`);
  console.log(`rehearsal took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(summaryLine(result));
  if (result.problems.length) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(3);
});
