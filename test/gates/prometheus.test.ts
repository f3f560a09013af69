import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { evaluateComparison, type CompareGate } from "../../modules/gates/compare";
import {
  prometheusProvider,
  PrometheusError,
  renderQuery,
  TEMPLATES,
  type PrometheusOptions,
} from "../../modules/gates/prometheus";
import { poolMatchers, selector } from "../../modules/gates/slo";

type Reply = { status?: number; body: unknown } | "hang";
interface Request {
  path: string;
  params: URLSearchParams;
}

/** A stand-in Prometheus on 127.0.0.1 answering from `reply`; closed when the test ends. */
async function fakePrometheus(t: TestContext, reply: (r: Request) => Reply) {
  const requests: Request[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    const r = { path: url.pathname, params: url.searchParams };
    requests.push(r);
    const answer = reply(r);
    if (answer === "hang") return; // the client's timeout ends it
    res.writeHead(answer.status ?? 200, { "content-type": "application/json" });
    res.end(typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = (over: Partial<PrometheusOptions> = {}) =>
    prometheusProvider({ url, region: "us-west", backoffMs: 1, ...over });
  return { requests, provider };
}

const ok = (data: unknown) => ({ body: { status: "success", data } });
const vector = (...series: [Record<string, string>, string][]) =>
  ok({ resultType: "vector", result: series.map(([metric, v]) => ({ metric, value: [1, v] })) });
/** One series per list of values, one a second, the last at `end` seconds. */
const matrix = (end: number, ...series: string[][]) =>
  ok({
    resultType: "matrix",
    result: series.map((values) => ({
      metric: {},
      values: values.map((v, i) => [end - values.length + 1 + i, v]),
    })),
  });

test("range: the pool's mean in the region over (from, to], NaN left out, nothing once the series went stale", async (t) => {
  let end = 20;
  const fake = await fakePrometheus(t, () => matrix(end, ["0.002", "NaN", "0.004", "+Inf"]));
  const values = await fake
    .provider({ stepMs: 1000 })
    .range('avfleet_packet_loss_ratio{pool="gcp-us-west1"}', 10_000, 20_000);
  assert.deepEqual(values, [0.002, 0.004]);
  const [r] = fake.requests;
  assert.equal(r.path, "/api/v1/query_range");
  assert.equal(
    r.params.get("query"),
    // what the hosts publish: their sessions' per-minute histogram, the step's mean figure
    'sum(increase(avfleet_session_packet_loss_ratio_sum{pool="gcp-us-west1",region="us-west"}[1s])) / sum(increase(avfleet_session_packet_loss_ratio_count{pool="gcp-us-west1",region="us-west"}[1s]))',
  );
  assert.deepEqual(
    [r.params.get("start"), r.params.get("end"), r.params.get("step")],
    ["11.000", "20.000", "1.000"],
  );
  // partial: the series stopped 10 s before the window's end (a scrape target down)
  end = 10;
  assert.deepEqual(
    await fake
      .provider({ stepMs: 1000 })
      .range('avfleet_packet_loss_ratio{pool="gcp-us-west1"}', 0, 20_000),
    [],
  );
});

test("no data: an empty range is no samples, an empty or NaN instant is undefined", async (t) => {
  let answer = matrix(60);
  const fake = await fakePrometheus(t, () => answer);
  const p = fake.provider();
  assert.deepEqual(await p.range('avfleet_rtt_p95_seconds{pool="p"}', 0, 60_000), []);
  await assert.rejects(p.range('m{pool="p"}', 0, 60_000), /m: not an SLO's metric/);
  answer = vector();
  assert.equal(await p.instant('avfleet_healthy_hosts{pool="p"}', 0), undefined);
  answer = vector([{}, "NaN"]);
  assert.equal(await p.instant('avfleet_healthy_hosts{pool="p"}', 0), undefined);
  answer = vector([{}, "40"]);
  assert.equal(await p.instant('avfleet_healthy_hosts{pool="p"}', 0), 40);
  assert.equal(
    fake.requests.at(-1)!.params.get("query"),
    'sum(avfleet_healthy_hosts{pool="p",region="us-west"})',
  );
  assert.equal(p.consecutiveErrors(), 0, "no data is not a provider error");
});

test("per-session summaries: the calls ended in the window and those in progress at its end, once each, with per-minute totals; stale or partial ones are missing", async (t) => {
  let fresh = vector([{}, "3"]);
  let buckets = vector([{ le: "0.01" }, "7.2"], [{ le: "+Inf" }, "10.4"]);
  const fake = await fakePrometheus(t, ({ path, params }) => {
    const q = params.get("query")!;
    if (path === "/api/v1/query_range") {
      // minutes 2 and 3 of three: minute 1 had no calls and comes back as no point
      const v = q.includes("_count") ? ["40", "50"] : ["0.2", "0.3"];
      return ok({
        resultType: "matrix",
        result: [
          {
            metric: {},
            values: [
              [120, v[0]],
              [180, v[1]],
            ],
          },
        ],
      });
    }
    if (q.startsWith("count(")) return fresh;
    if (q.startsWith("sum by (le) (increase(")) return buckets;
    if (q.startsWith("sum by (le) (avfleet_session_open_")) {
      return vector([{ le: "0.01" }, "2"], [{ le: "+Inf" }, "3"]);
    }
    if (q.startsWith("sum(avfleet_session_open_")) return vector([{}, "0.5"]);
    return vector([{}, "0.25"]);
  });
  const p = fake.provider();
  const metric = "avfleet_session_summary_packet_loss_ratio";
  const got = await p.histogram(metric, "gcp-us-west1", 0, 180_000);
  assert.deepEqual(got, {
    query:
      'sum by (le) (increase(avfleet_session_summary_packet_loss_ratio_bucket{pool="gcp-us-west1",region="us-west"}[180s]))',
    histogram: {
      buckets: [
        { le: 0.01, count: 9.2 },
        { le: Infinity, count: 13.4 },
      ],
      sum: 0.75,
    },
    minutes: [
      { count: 0, sum: 0 },
      { count: 40, sum: 0.2 },
      { count: 50, sum: 0.3 },
    ],
  });
  const queries = fake.requests.map((r) => r.params.get("query"));
  assert.ok(
    queries.includes(
      'sum by (le) (avfleet_session_open_packet_loss_ratio_bucket{pool="gcp-us-west1",region="us-west"})',
    ),
  );
  assert.ok(
    queries.includes(
      'sum(increase(avfleet_session_packet_loss_ratio_count{pool="gcp-us-west1",region="us-west"}[60s]))',
    ),
  );
  const range = fake.requests.find((r) => r.path === "/api/v1/query_range")!;
  assert.deepEqual(
    [range.params.get("start"), range.params.get("end"), range.params.get("step")],
    ["60.000", "180.000", "60.000"],
  );
  fresh = vector();
  const stale = await p.histogram(metric, "gcp-us-west1", 0, 600_000);
  assert.match("missing" in stale ? stale.missing : "", /^no fresh \S+ series at the window's end/);
  fresh = vector([{}, "3"]);
  buckets = vector([{ le: "0.01" }, "7"]);
  const partial = await p.histogram(metric, "gcp-us-west1", 0, 600_000);
  assert.match("missing" in partial ? partial.missing : "", /^partial histogram: no \+Inf bucket/);
});

test("a slow Prometheus times out: an error, not data, counted once however many tries", async (t) => {
  const fake = await fakePrometheus(t, () => "hang");
  const p = fake.provider({ timeoutMs: 30, retries: 1 });
  await assert.rejects(p.instant('m{pool="p"}', 0), (err: PrometheusError) => {
    assert.equal(err.message, "/api/v1/query: timed out after 30 ms");
    assert.equal(err.errorLimit, false);
    return true;
  });
  assert.equal(p.consecutiveErrors(), 1, "one failed query, however many tries");
});

test("5xx is retried with backoff; a bad query (4xx) is not; a success resets the count", async (t) => {
  let status = 503;
  const fake = await fakePrometheus(t, () =>
    status === 200
      ? vector([{}, "1"])
      : {
          status,
          body: {
            status: "error",
            errorType: status === 400 ? "bad_data" : "unavailable",
            error: "x",
          },
        },
  );
  const p = fake.provider({ retries: 2 });
  await assert.rejects(p.instant('m{pool="p"}', 0), /HTTP 503: unavailable: x/);
  assert.equal(fake.requests.length, 3);
  status = 400;
  await assert.rejects(p.instant("m{", 0), /HTTP 400: bad_data: x/);
  assert.equal(fake.requests.length, 4, "a bad query is not retried");
  assert.equal(p.consecutiveErrors(), 2);
  status = 200;
  assert.equal(await p.instant('m{pool="p"}', 0), 1);
  assert.equal(p.consecutiveErrors(), 0);
});

test("consecutive-error limit: the gate holds (errorLimit), never passes, never fails", async (t) => {
  const fake = await fakePrometheus(t, () => ({ status: 500, body: "internal error" }));
  const p = fake.provider({ retries: 0, errorLimit: 3 });
  const gate: CompareGate = {
    slo: "packet-loss",
    critical: true,
    minSamples: 1,
    confidence: 0.999,
  };
  const pools = { source: "metal-sjc", target: "gcp-us-west1" };
  // both pools are queried per round: two failed queries a round
  const first = await evaluateComparison(gate, pools, p, 0, 60_000);
  assert.equal(first.verdict, "inconclusive");
  assert.equal(first.errorLimit, undefined);
  assert.match(first.queryError!, /HTTP 500: internal error/);
  const second = await evaluateComparison(gate, pools, p, 0, 120_000);
  assert.equal(second.verdict, "inconclusive");
  assert.equal(second.errorLimit, true);
  assert.match(second.reason, /failed queries in a row \(limit 3\); last: .*HTTP 500/);
});

test("a cohort of a pool's hosts is queried with its own matchers: a canary against the rest", () => {
  assert.equal(
    selector("avfleet_active_sessions", "metal-sjc/release=r-0123456789ab"),
    'avfleet_active_sessions{pool="metal-sjc",release="r-0123456789ab"}',
  );
  assert.equal(
    renderQuery(TEMPLATES.instant, {
      metric: "avfleet_active_sessions",
      matchers: poolMatchers("metal-sjc/host=~sjc-r01-01|sjc-r01-02"),
      region: "us-west",
    }),
    'sum(avfleet_active_sessions{pool="metal-sjc",host=~"sjc-r01-01|sjc-r01-02",region="us-west"})',
  );
  assert.throws(() => selector("m", 'p/release="x"'), /not a cohort matcher/);
});
