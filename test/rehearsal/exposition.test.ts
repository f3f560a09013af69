import { test } from "node:test";
import assert from "node:assert/strict";
import { renderExposition, serveExposition } from "../../modules/rehearsal/exposition";
import { loadRunbook } from "../../modules/runbook/runbook";
import { advance, createWorld } from "../../modules/rehearsal/world";
import { FIXTURE_STACKS, US_WEST } from "../migrate/support";

function world() {
  const state = createWorld(loadRunbook(US_WEST, FIXTURE_STACKS), 1, []);
  advance(state, state.now + 5 * 60_000);
  return state;
}

test("the world's metrics in Prometheus text format: HELP, TYPE and one sample per pool", () => {
  const lines = renderExposition(world()).trim().split("\n");
  assert.ok(lines.includes("# TYPE avfleet_packet_loss_ratio gauge"));
  assert.ok(lines.includes("# TYPE avfleet_active_sessions gauge"));
  assert.ok(lines.includes('avfleet_traffic_weight{pool="metal-sjc",region="us-west"} 100'));
  assert.ok(
    lines.some((l) => /^avfleet_active_sessions\{pool="metal-sjc",region="us-west"\} \d+$/.test(l)),
  );
  // Prometheus would refuse the simulated clock as sample timestamps: it is a gauge instead
  assert.ok(lines.includes(`avfleet_world_time_seconds ${Date.UTC(2026, 2, 10, 14, 5) / 1000}`));
  // a pool without sessions has no quality samples: no data, not zero
  // (the world answers by the pools' labels, as their hosts do: gcp-us-west1 runs gcp-usw1)
  assert.ok(lines.includes('avfleet_traffic_weight{pool="gcp-usw1",region="us-west"} 0'));
  assert.ok(!lines.some((l) => l.startsWith('avfleet_packet_loss_ratio{pool="gcp-usw1"')));
  for (const line of lines.filter((l) => l.includes("{"))) {
    assert.match(
      line,
      /^[a-z_0-9]+\{pool="[a-z0-9-]+",region="[a-z-]+"(,le="(\+Inf|[0-9.e-]+)")?\} [0-9.e+-]+$/,
    );
  }
  // Per-session histograms, so relative gates run the same PromQL as against the fleet.
  assert.ok(lines.includes("# TYPE avfleet_session_packet_loss_ratio histogram"));
  const bucket = (le: string) =>
    Number(
      lines
        .find((l) =>
          l.startsWith(
            `avfleet_session_packet_loss_ratio_bucket{pool="metal-sjc",region="us-west",le="${le}"}`,
          ),
        )
        ?.split(" ")[1],
    );
  assert.ok(bucket("+Inf") > 0);
  assert.ok(bucket("0.005") <= bucket("0.01") && bucket("0.01") <= bucket("+Inf"), "cumulative");
});

test("served on a loopback port at /metrics", async () => {
  const state = world();
  const { server, port } = await serveExposition(() => state, 0);
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    assert.equal(await res.text(), renderExposition(state));
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 404);
  } finally {
    server.close();
  }
});
