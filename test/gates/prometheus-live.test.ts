/**
 * End to end through a real Prometheus (Debian's `prometheus`, on loopback): it scrapes a fleet
 * exposition this test drives in real time, and a rehearsal's gates query its HTTP API. A
 * stopped scrape target mid-bake must leave the gates inconclusive and the run held.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { realClock } from "../../modules/migrate/clock";
import { COMPARISONS } from "../../modules/gates/compare";
import type { Histogram } from "../../modules/gates/metrics";
import { runMigration } from "../../modules/migrate/executor";
import type { Entry } from "../../modules/migration-state/journal";
import {
  emptyHistogram,
  observe,
  prometheusProvider,
  renderHistogram,
  type PrometheusProvider,
} from "../../modules/gates/prometheus";
import { ACTIVE_SESSIONS, HEALTHY_HOSTS } from "../../modules/gates/slo";
import { noise } from "../../modules/world/quality";
import { missingCommands, prerequisite } from "../support/prerequisites";
import { close, serveText, startPrometheus } from "../support/prometheus";
import { executorFor, newRehearsal, tempDir, tempStacks, writeRunbook } from "../migrate/support";

const REGION = "us-west";
/** The runbook's pool stacks, and the `pool` label their hosts export (each stack's fleet pool). */
const STACKS = { source: "metal-sjc", target: "gcp-us-west1" };
const POOLS = { source: "metal-sjc", target: "gcp-usw1" };
const LOSS = COMPARISONS["packet-loss"];
const JOIN = COMPARISONS["join-success"];

/** Per-pool session quality, driven in real time: what the SFUs of two pools export. */
class Fleet {
  meanLoss: Record<string, number> = { [POOLS.source]: 0.005, [POOLS.target]: 0.005 };
  private loss: Record<string, Histogram> = {};
  private ended: Record<string, Histogram> = {};
  private open: Record<string, Histogram> = {};
  private joins: Record<string, Histogram> = {};
  private ticks = 0;

  constructor() {
    for (const pool of Object.values(POOLS)) {
      this.loss[pool] = emptyHistogram(LOSS.buckets);
      this.ended[pool] = emptyHistogram(LOSS.buckets);
      this.open[pool] = emptyHistogram(LOSS.buckets);
      this.joins[pool] = emptyHistogram(JOIN.buckets);
    }
  }

  /**
   * A tick: per pool 4 joins, 20 session reports and 4 calls ending, and the 20 calls in
   * progress; every figure uniform around the pool's mean.
   */
  tick(): void {
    this.ticks++;
    for (const pool of Object.values(POOLS)) {
      const loss = (key: string) => 2 * this.meanLoss[pool] * noise(this.ticks, `${pool}${key}`);
      this.open[pool] = emptyHistogram(LOSS.buckets);
      for (let i = 0; i < 4; i++) observe(this.joins[pool], 1);
      for (let i = 0; i < 4; i++) observe(this.ended[pool], loss(`end${i}`));
      for (let i = 0; i < 20; i++) {
        observe(this.loss[pool], loss(`${i}`));
        observe(this.open[pool], loss(`open${i}`));
      }
    }
  }

  exposition(): string {
    const pools = Object.values(POOLS);
    const labels = (pool: string) => ({ pool, region: REGION });
    const gauge = (name: string, value: (pool: string) => number) => [
      `# TYPE ${name} gauge`,
      ...pools.map((p) => `${name}{pool="${p}",region="${REGION}"} ${value(p)}`),
    ];
    return `${[
      ...gauge(HEALTHY_HOSTS, () => 50),
      ...gauge(ACTIVE_SESSIONS, () => 200),
      ...renderHistogram(
        LOSS.sessionMetric,
        "Per-session packet loss, one sample a session-minute.",
        pools.map((p) => ({ labels: labels(p), histogram: this.loss[p] })),
      ),
      ...renderHistogram(
        LOSS.summaryMetric,
        "Per-session packet loss over the whole call, observed when it ends.",
        pools.map((p) => ({ labels: labels(p), histogram: this.ended[p] })),
      ),
      // the calls in progress: a gauge histogram, as gauges (the text format has no such type)
      ...renderHistogram(
        LOSS.openMetric!,
        "Per-session packet loss of the calls in progress.",
        pools.map((p) => ({ labels: labels(p), histogram: this.open[p] })),
      ).map((line) => line.replace(/^# TYPE .*/, "")),
      ...renderHistogram(
        JOIN.sessionMetric,
        "Join attempts: 1 joined, 0 failed.",
        pools.map((p) => ({ labels: labels(p), histogram: this.joins[p] })),
      ),
    ].join("\n")}\n`;
  }
}

/** Serves the fleet's exposition and ticks it every 100 ms until stopped. */
async function serveFleet(t: TestContext, fleet: Fleet) {
  const { server, port } = await serveText(() => fleet.exposition());
  const timer = setInterval(() => fleet.tick(), 100);
  const halt = () => {
    clearInterval(timer);
    close(server);
  };
  t.after(halt);
  return { port, halt };
}

/** Prometheus on 127.0.0.1, scraping `targetPort` every second; killed when the test ends. */
async function startFleetPrometheus(t: TestContext, targetPort: number): Promise<string> {
  const prometheus = await startPrometheus({ avfleet: [targetPort] });
  t.after(() => prometheus.stop());
  return prometheus.url;
}

/**
 * A short real-time runbook: preflight, then 5 % on the target, baked 12 s with gates every
 * second; the relative gate's clusters are 2-second steps (one scrape a second: the least an
 * increase() can read), so it can decide from its fifth, after 10 s.
 */
function liveRehearsal() {
  const stacks = tempStacks();
  const traffic = join(stacks, "Pulumi.traffic-us-west.yaml");
  // a 6-second bake must outlast the DNS TTL the loader checks it against
  writeFileSync(traffic, readFileSync(traffic, "utf8").replace("ttl: 30", "ttl: 5"));
  const file = writeRunbook(tempDir(), {
    region: REGION,
    traffic: "traffic-us-west",
    ...STACKS,
    steps: [
      { kind: "preflight" },
      {
        kind: "shift",
        weights: [5],
        bake: "12s",
        interval: "1s",
        maxBake: "16s",
        gates: [
          { slo: "packet-loss", minSamples: 3 },
          { slo: "packet-loss", compare: "source", minSamples: 50 },
        ],
      },
    ],
  });
  return newRehearsal(file, stacks);
}

async function rehearse(provider: PrometheusProvider, onEntry?: (e: Entry) => void) {
  const r = liveRehearsal();
  const { ctx, world } = executorFor(r);
  const entries: Entry[] = [];
  const outcome = await runMigration({
    ...ctx,
    drivers: { pulumi: world.pulumi, metrics: provider, clock: realClock },
    onEntry: (e) => {
      entries.push(e);
      onEntry?.(e);
    },
  });
  return { outcome, entries, gates: entries.filter((e) => e.type === "gates") };
}

test("gates through a real Prometheus: pass when healthy, roll back at the first breach, hold when the target stops", async (t) => {
  if (!prerequisite(t, missingCommands("prometheus"))) return;
  const fleet = new Fleet();
  const served = await serveFleet(t, fleet);
  const url = await startFleetPrometheus(t, served.port);
  const provider = prometheusProvider({ url, region: REGION, stepMs: 2000, timeoutMs: 2000 });

  await t.test("healthy: every gate round queries Prometheus, the step passes", async () => {
    const run = await rehearse(provider);
    assert.equal(run.outcome.kind, "done", run.outcome.reason);
    const last = run.gates.at(-1)!;
    assert.equal(last.type === "gates" && last.verdict, "pass");
    const [absolute, compared] = last.type === "gates" ? last.evaluations : [];
    assert.equal(absolute.query, 'avfleet_packet_loss_ratio{pool="gcp-usw1"}');
    assert.ok(absolute.samples >= 3, `${absolute.samples} samples`);
    // the mean of the sessions' figures, uniform on [0, 0.01]: hundreds of them
    assert.ok(Math.abs(absolute.value! - 0.005) < 0.001, `${absolute.value}`);
    // the relative gate over the same window, through the same API
    assert.equal(compared.verdict, "pass", compared.reason);
    assert.ok(compared.targetSamples! >= 50 && compared.sourceSamples! >= 50);
    assert.ok(compared.pValue! >= 0.001);
    assert.match(
      compared.query,
      /increase\(avfleet_session_summary_packet_loss_ratio_bucket\{pool="gcp-usw1",region="us-west"\}\[\d+s\]\)/,
    );
  });

  await t.test("a critical breach rolls back at the first round that sees it", async () => {
    fleet.meanLoss[POOLS.target] = 0.03;
    try {
      const run = await rehearse(provider);
      assert.equal(run.outcome.kind, "rolled-back", run.outcome.reason);
      const verdicts = run.gates.map((g) => (g.type === "gates" ? g.verdict : ""));
      assert.equal(verdicts.at(-1), "critical-fail");
      assert.ok(
        verdicts.slice(0, -1).every((v) => v === "inconclusive"),
        `rounds before the rollback: ${verdicts.join(", ")}`,
      );
      const after = run.entries.slice(run.entries.indexOf(run.gates.at(-1)!) + 1);
      assert.ok(after.some((e) => e.type === "rollback"));
      assert.ok(
        !after.some((e) => e.type === "gates"),
        "no further gate round before the rollback",
      );
    } finally {
      fleet.meanLoss[POOLS.target] = 0.005;
    }
  });

  await t.test(
    "the scrape target stops mid-bake: inconclusive, then held, never passed",
    async () => {
      let stopped = false;
      const run = await rehearse(provider, (e) => {
        if (e.type === "gates" && !stopped) {
          stopped = true;
          served.halt();
        }
      });
      assert.equal(run.outcome.kind, "held", run.outcome.reason);
      assert.match(run.outcome.reason, /^inconclusive after/);
      assert.ok(!run.entries.some((e) => e.type === "step-end" && e.unit === "2"));
      const last = run.gates.at(-1)!;
      assert.equal(last.type === "gates" && last.verdict, "inconclusive");
      const [absolute, compared] = last.type === "gates" ? last.evaluations : [];
      assert.equal(absolute.verdict, "inconclusive");
      assert.equal(absolute.samples, 0, "the stale series' earlier points are not the window's");
      assert.equal(compared.verdict, "inconclusive");
      assert.match(
        compared.reason,
        /^no data: .*no fresh avfleet_session_summary_packet_loss_ratio series/,
      );
    },
  );
});
