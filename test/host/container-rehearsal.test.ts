/**
 * The container rehearsal (bench/host/container.ts): a host whose media server is a container
 * image, booted from the rendered payload, its unit run with Debian's podman in a network
 * namespace.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PODMAN_DEFAULT_STOP_SEC, rehearseContainer } from "../../bench/host/container";
import { CONTAINER_HOST_ID } from "../../modules/host/units";
import { isRoot, missingCommands, prerequisite } from "../support/prerequisites";

test("container workload: starts after tuning, healthy through the agent, a stop waits out the drain, a failed pull never serves", async (t) => {
  const missing = !isRoot()
    ? "root"
    : missingCommands("podman", "nsenter", "ip", "nft", "ethtool", "sha256sum", "python3", "curl");
  if (!prerequisite(t, missing)) return;
  const r = await rehearseContainer(`container-t${process.pid}`);
  t.diagnostic(`deviations from the rendered unit: ${r.deviations.join("; ")}`);
  assert.match(r.ref, /^localhost\/avfleet-rehearsal-sfu@sha256:[a-f0-9]{64}$/);
  assert.ok(r.mediaAfterTuning, "the container started after the tuning, on tuned values");
  assert.ok(r.healthy, "the agent's health check passes with the server in its container");
  assert.equal(r.containerStopTimeout, 60, "podman's own stop timeout is the drain's");
  assert.ok(r.sessionsAtStop >= 2, "sessions were live when the unit was stopped");
  // The stand-in drains on SIGTERM and its sessions last 12-15 s: at podman's default stop
  // timeout it would have been killed with sessions left.
  assert.ok(
    r.stopSeconds > PODMAN_DEFAULT_STOP_SEC,
    `the stop lasted ${r.stopSeconds} s: the drain, not podman's default`,
  );
  assert.deepEqual(r.exit, { code: 0, signal: null }, "the server exited by itself");
  assert.equal(r.cut, 0, "no session cut");
  assert.deepEqual(r.pullFailure, { started: false, health: 503, containers: "" });
  // The server's root is the host's CONTAINER_HOST_ID, with no capability: a user namespace and
  // --cap-drop=all, and still it served UDP and TCP on the host's own addresses.
  assert.deepEqual(r.server, { uid: CONTAINER_HOST_ID, capEff: "0000000000000000" });
});
