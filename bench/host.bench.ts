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
  for (const h of result.hosts.filter((x) => x.warm)) {
    const w = h.warm!;
    console.log(
      `${h.kind}-warm-pool warm_posts=${w.warmPosts} launch_completions=${w.launchCompletions}` +
        ` launch_heartbeats=${w.launchHeartbeats} launch_no_active=${w.launchNoActive}` +
        ` retuned=${w.retuned} bootstrap_interrupted=${w.bootstrapInterrupted}` +
        ` stopped_draining=${w.stoppedDraining}` +
        ` completed_before_bootstrap=${w.completedBeforeBootstrap} hooks_waiting_at_end=${w.waitingAtEnd.length}`,
    );
  }
  for (const h of result.hosts.filter((x) => x.sessions)) {
    const { sfu, agent, promtool, contract } = h.sessions!;
    console.log(
      `${h.kind}-sessions sfu_ended=${sfu.ended} agent_ended=${agent.ended.join("/")}` +
        ` sfu_joins=${sfu.joined + sfu.joinsFailed} agent_joins=${agent.joins}` +
        ` sfu_joins_failed=${sfu.joinsFailed} agent_le0=${agent.joinsFailed}` +
        ` ice=${agent.ice.connected}/${agent.ice.failed} session_minutes=${agent.minutes}` +
        ` open=${agent.open} promtool_problems=${promtool.length} contract_problems=${contract.length}`,
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
