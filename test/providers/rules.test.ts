/** The provider rules as functions: what each returns for the values the providers document. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as aws from "../../modules/providers/aws";
import * as gcp from "../../modules/providers/gcp";
import {
  forcesReplacement,
  ignoredBy,
  inputsAfterIgnore,
  pathKeys,
} from "../../modules/providers/replacement";
import {
  jobTimeoutSec,
  restartAfterKill,
  seconds,
  timeoutStopSec,
} from "../../modules/providers/systemd";

test("systemd: spans as systemd.time(7) writes them; the shutdown's 30 minutes unless a drop-in says otherwise", () => {
  assert.equal(seconds("30min"), 1800);
  assert.equal(seconds("1h 30min"), 5400);
  assert.equal(seconds("7320"), 7320);
  assert.ok(Number.isNaN(seconds("5fortnights")));
  assert.equal(jobTimeoutSec(undefined), 1800);
  assert.equal(jobTimeoutSec("[Unit]\nJobTimeoutSec=7320\n"), 7320);
  assert.equal(timeoutStopSec("[Service]\nExecStart=/x\n"), 90, "systemd's DefaultTimeoutStopSec");
  assert.equal(restartAfterKill("Restart=always\nRestartSec=2\n"), 2);
  assert.equal(restartAfterKill("Restart=no\n"), undefined);
  assert.equal(restartAfterKill("Restart=on-failure\n"), 0.1, "RestartSec's default, 100 ms");
});

test("AWS: a hook lets go a heartbeat timeout after the last beat, never past min(48 h, 100 x timeout)", () => {
  assert.equal(aws.hookReleasesAt({ heartbeatTimeout: 1920 }, 300, 300), 2220);
  fc.assert(
    fc.property(
      fc.integer({ min: 30, max: 7200 }),
      fc.integer({ min: 0, max: 10_000 }),
      fc.integer({ min: 0, max: 400_000 }),
      (timeout, entered, beatAfter) => {
        const release = aws.hookReleasesAt(
          { heartbeatTimeout: timeout },
          entered,
          entered + beatAfter,
        );
        assert.ok(release <= entered + Math.min(48 * 3600, 100 * timeout));
        assert.ok(release >= entered + Math.min(timeout, 48 * 3600));
      },
    ),
  );
});

test("AWS: NLB connection handling and the group's replacement triggers, from the rendered inputs", () => {
  assert.equal(aws.nlbCutsUnhealthy({}), true, "the default closes them");
  assert.equal(
    aws.nlbCutsUnhealthy({ targetHealthStates: [{ enableUnhealthyConnectionTermination: false }] }),
    false,
  );
  assert.equal(aws.deregistrationDelaySec({}), 300);
  assert.equal(aws.rebalances({}), true);
  assert.equal(aws.rebalances({ suspendedProcesses: ["AZRebalance"] }), false);
  assert.equal(aws.replacesOnTargetHealth({ healthCheckType: "ELB" }), true);
  const group = "aws:autoscaling/group:Group";
  assert.equal(forcesReplacement(group, "initialLifecycleHooks[0].heartbeatTimeout"), true);
  assert.equal(
    forcesReplacement(group, "initialLifecycleHooks[0].heartbeatTimeout", [
      "initialLifecycleHooks",
    ]),
    false,
  );
  assert.equal(forcesReplacement(group, "maxSize"), false);
});

test("GCP: autohealing repairs only past the initial delay and the threshold; redistribution evens zones out", () => {
  const s = {
    initialDelaySec: 300,
    checkIntervalSec: 10,
    unhealthyThreshold: 3,
    actionOnFailure: "REPAIR" as const,
  };
  assert.equal(gcp.autohealingRepairs(s, 3, 299), false);
  assert.equal(gcp.autohealingRepairs(s, 2, 10_000), false);
  assert.equal(gcp.autohealingRepairs(s, 3, 300), true);
  assert.equal(gcp.autohealingRepairs({ ...s, actionOnFailure: "DO_NOTHING" }, 9, 10_000), false);
  assert.equal(gcp.redistributionDeletes("NONE", [0, 4, 2]), 0);
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 5 }),
      (zones) => {
        const deleted = gcp.redistributionDeletes("PROACTIVE", zones);
        const even = Math.ceil(zones.reduce((a, b) => a + b, 0) / zones.length);
        assert.equal(
          deleted,
          zones.reduce((n, c) => n + Math.max(0, c - even), 0),
        );
      },
    ),
  );
  assert.equal(gcp.onTemplateChange({ type: "OPPORTUNISTIC", minimalAction: "REPLACE" }), "none");
  assert.equal(gcp.onTemplateChange({ type: "PROACTIVE", minimalAction: "REPLACE" }), "replace");
  assert.equal(gcp.autoscalerDeletes("ONLY_SCALE_OUT"), false);
  assert.equal(gcp.passthroughCutsOnUnhealthy({}), false);
  // new connections: the healthy backends alone, or every backend when none is healthy
  assert.deepEqual(gcp.passthroughTakesNew([true, false, false]), [true, false, false]);
  assert.deepEqual(gcp.passthroughTakesNew([false, false]), [true, true]);
});

test("Pulumi: ignoreChanges by property path keeps the state's value there and nowhere else", () => {
  assert.deepEqual(pathKeys("launchTemplate.version"), ["launchTemplate", "version"]);
  assert.deepEqual(pathKeys('versions[0]["instance.Template"]'), [
    "versions",
    0,
    "instance.Template",
  ]);
  assert.throws(() => pathKeys("a..b"), /not a property path/);
  assert.equal(ignoredBy("launchTemplate.version", ["launchTemplate.version"]), true);
  assert.equal(ignoredBy("launchTemplate.id", ["launchTemplate.version"]), false);
  assert.equal(ignoredBy("versions[0].instanceTemplate", ["versions"]), true);
  assert.equal(ignoredBy("versionsX", ["versions"]), false);
  const group = "aws:autoscaling/group:Group";
  assert.equal(forcesReplacement(group, "initialLifecycleHooks[0].name", ["minSize"]), true);
  const program = { launchTemplate: { id: "lt-1", version: "4" }, maxSize: 9 };
  const state = { launchTemplate: { id: "lt-1", version: "3" }, maxSize: 8 };
  assert.deepEqual(inputsAfterIgnore(program, state, ["launchTemplate.version"]), {
    launchTemplate: { id: "lt-1", version: "3" },
    maxSize: 9,
  });
  // No state there (a create): the program's value stands.
  assert.deepEqual(inputsAfterIgnore(program, {}, ["launchTemplate.version"]), program);
  assert.equal(program.launchTemplate.version, "4", "the program's inputs are not changed");
});
