import { test } from "node:test";
import assert from "node:assert/strict";
import { avfleet } from "../support/cli";

test("rollout plan: a site's active hosts, canary first, batches within a rack and the limit", () => {
  const r = avfleet(["rollout", "plan", "metal-sjc", "--max-unavailable", "4", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout);
  assert.equal(plan.hosts, 44, "metal-sjc's active hosts");
  assert.deepEqual(plan.canary, ["sjc-m001"]);
  assert.equal(plan.batches.flat().length + plan.canary.length, 44);
  assert.ok(plan.batches.every((b: string[]) => b.length <= 4));
  const human = avfleet([
    "rollout",
    "plan",
    "gcp-us-west1",
    "--hosts",
    "9",
    "--max-unavailable",
    "3",
  ]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(
    human.stdout,
    /^gcp-us-west1: 9 hosts, at most 3 out of service at once, 3 batches after the canary\n {2}canary \(us-west1-a\): us-west1-a-01\n/,
  );
});

test("rollout plan: bad options and stacks exit 2 with what was expected", () => {
  const cases: [string[], RegExp][] = [
    [
      ["rollout", "plan", "metal-sjc", "--max-unavailable", "0"],
      /--max-unavailable is "0", expected a host count from 1 or a share from 1% to 100%/,
    ],
    [
      ["rollout", "plan", "metal-sjc", "--canary-share", "0.9"],
      /--canary-share is "0.9", expected a number from 0 to 0.5/,
    ],
    [["rollout", "plan", "metal-sjc", "--hosts", "3"], /--hosts is for cloud pools/],
    [
      ["rollout", "plan", "traffic-us-west"],
      /traffic-us-west is a traffic stack, expected a fleet stack/,
    ],
    [
      ["rollout", "go", "metal-sjc"],
      /expected "rollout plan\|run\|status\|approve\|abort\|rollback STACK"/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = avfleet(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, message);
    assert.equal(r.stdout, "");
  }
});

test("rollout run --rehearse: a bad release stops at the canary, goes back, and exits 1", () => {
  const r = avfleet([
    "rollout",
    "run",
    "metal-sjc",
    "--rehearse",
    "--bad-release",
    "--canary-share",
    "0.1",
    "--json",
  ]);
  assert.equal(r.code, 1, r.stderr);
  const { outcome } = JSON.parse(r.stdout);
  assert.equal(outcome.kind, "rolled-back");
  assert.match(outcome.reason, /canary failed its gates: packet-loss/);
  // progress goes to stderr under --json: the drain, the config the program reads, the up
  assert.match(r.stderr, /canary: \d+ host\(s\) in r\d\d/);
  assert.match(
    r.stderr,
    /pulumi config set --path avfleet:rollout.draining --type int --stack metal-sjc -- 0/,
  );
});

test("rollout run: a real run needs its metrics, a rehearsal is run only; both exit 2", () => {
  const real = avfleet(["rollout", "run", "metal-sjc"]);
  assert.equal(real.code, 2);
  assert.match(real.stderr, /a real rollout needs --prometheus/);
  const approve = avfleet(["rollout", "approve", "metal-sjc", "--rehearse"]);
  assert.equal(approve.code, 2);
  assert.match(approve.stderr, /--rehearse .* go with run/);
});
