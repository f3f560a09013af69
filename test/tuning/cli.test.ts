import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderCloudInit, renderTuning } from "../../modules/tuning";
import { avfleet } from "../support/cli";
import { exampleFacts, HOSTS } from "./support";

const facts = HOSTS["gcp-n2d-16"];

test("tune render prints the script, the cloud-init or the sysctl.d file", () => {
  const a = renderTuning("media-udp", exampleFacts("gcp-n2d-16"));
  const render = (...more: string[]) =>
    avfleet(["tune", "render", "--profile", "media-udp", "--facts", facts, ...more]);
  const script = render();
  assert.equal(script.code, 0, script.stderr);
  assert.equal(script.stdout, a.script);
  assert.equal(render("--format", "cloud-init").stdout, renderCloudInit(a));
  assert.equal(render("--format", "sysctl").stdout, a.sysctl);
});

test("tune explain: every value and why, as text and --json", () => {
  const a = renderTuning("media-udp", exampleFacts("metal-64"));
  const text = avfleet(["tune", "explain", "--profile", "media-udp", "--facts", HOSTS["metal-64"]]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^sysctl net\.core\.rmem_max +51380224$/m);
  assert.match(
    text.stdout,
    /why: SO_RCVBUF cap: 1000000 pkt\/s × 20 ms × 2304 B\/pkt = 46080000 B/,
  );
  const json = avfleet([
    "tune",
    "explain",
    "--profile",
    "media-udp",
    "--facts",
    HOSTS["metal-64"],
    "--json",
  ]);
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.hash, a.hash);
  assert.deepEqual(
    doc.settings,
    a.settings.map(({ area, name, value, reason }) => ({ area, name, value, reason })),
  );
});

test("bad facts or usage: exit 2, every problem on stderr, nothing rendered", () => {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-tune-"));
  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, "cores: 16\nnicDriver: 'gve$(reboot)'\n");
  const result = avfleet(["tune", "render", "--profile", "media-udp", "--facts", bad]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  assert.match(
    result.stderr,
    new RegExp(
      `^${bad}: nicDriver: is "gve\\$\\(reboot\\)", expected a kernel NIC driver name like gve, ena, mlx5_core or ice$`,
      "m",
    ),
  );
  assert.match(
    result.stderr,
    new RegExp(
      `^${bad}: mediaUnit: is missing, expected a systemd service name like sfu.service$`,
      "m",
    ),
  );
  for (const args of [
    ["tune", "render", "--profile", "fast", "--facts", facts],
    ["tune", "render", "--profile", "media-udp"],
    ["tune", "frobnicate", "--profile", "media-udp", "--facts", facts],
    ["tune", "render", "--profile", "media-udp", "--facts", facts, "--format", "html"],
    ["tune", "render", "--profile", "media-udp", "--facts", join(dir, "absent.yaml")],
  ]) {
    const r = avfleet(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.stdout, "", args.join(" "));
  }
});
