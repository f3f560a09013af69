/**
 * How long a host may drain, per platform (#28): AWS up to what its drain hook holds with the
 * agent's heartbeats, min(48 h, 100 x 7200 s) less the hook's margin; GCP and bare metal up to
 * our own two days, no provider's limit applying before their hosts go (modules/config/
 * drain-ceiling.ts). Beyond: the file, the key path and the bound, exit 2, nothing previewed. At
 * GCP's longest, every value rendered from drainSeconds follows it.
 */
import { test } from "node:test";
import { spawnSync } from "node:child_process";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { loadStackFile } from "../../modules/stacks/stack";
import { AWS_MAX_DRAIN_SEC } from "../../modules/config/aws-drain";
import { drainHook } from "../../modules/fleets/aws-args";
import { hookReleasesAt } from "../../modules/providers/aws";
import type { AwsFleetSpec } from "../../modules/config/fleet.schema";
import { DRAIN_CEILING_SEC } from "../../modules/config/drain-ceiling";
import { renderedPools } from "../../modules/lifecycle/rendered";
import { SCALE_IN_ENV } from "../../policy/contract/rules";
import { avfleet, ROOT } from "../support/cli";
import { evaluateVariants } from "../support/plans";
import { missingCommands, prerequisite } from "../support/prerequisites";
import { problemsLoading } from "../support/problems";

function stackWith(stack: string, drainSeconds: number, maxCutPerHost?: number): string {
  const doc = YAML.parse(readFileSync(join(ROOT, `stacks/Pulumi.${stack}.yaml`), "utf8"));
  doc.config["avfleet:fleet"].drainSeconds = drainSeconds;
  if (maxCutPerHost !== undefined)
    (doc.config["avfleet:fleet"].autoscaling ??= {}).maxCutPerHost = maxCutPerHost;
  return YAML.stringify(doc);
}

function load(text: string) {
  const file = join(mkdtempSync(join(tmpdir(), "drain-limit-")), "Pulumi.s.yaml");
  writeFileSync(file, text);
  return loadStackFile(file);
}

const problemsOf = (text: string) => problemsLoading(loadStackFile, "Pulumi.bad.yaml", text);

test("GCP takes a 4-hour drain and up to two days, as bare metal does", () => {
  for (const drainSeconds of [14_400, DRAIN_CEILING_SEC]) {
    assert.equal(load(stackWith("gcp-us-west1", drainSeconds)).fleet!.drainSeconds, drainSeconds);
  }
});

test("AWS takes a 4-hour drain and up to 47 h 58 min; its hook's heartbeatTimeout stays at AWS's 7200 s", () => {
  assert.equal(AWS_MAX_DRAIN_SEC, 172_680);
  for (const drainSeconds of [14_400, AWS_MAX_DRAIN_SEC]) {
    const fleet = load(stackWith("aws-us-east-1", drainSeconds)).fleet as AwsFleetSpec;
    assert.equal(fleet.drainSeconds, drainSeconds);
    const hook = drainHook(fleet);
    assert.equal(hook.heartbeatTimeout, 7200);
    // Heartbeating all along, the hook lets go at its global timeout: 48 h after it began,
    // past the drain and its round trip.
    assert.equal(hookReleasesAt(hook, 0, Infinity), 172_800);
    assert.ok(hookReleasesAt(hook, 0, Infinity) >= drainSeconds + 120);
  }
  assert.equal((load(stackWith("aws-us-east-1", 1800)).fleet as AwsFleetSpec).autoscaling.maxCutPerHost, 35);
});

test("beyond each platform's limit: the key path and the bound", () => {
  assert.deepEqual(problemsOf(stackWith("aws-us-east-1", AWS_MAX_DRAIN_SEC + 1)), [
    "config.avfleet:fleet.drainSeconds: is 172681, expected seconds a host may take to drain its calls before it goes; past two hours the agent heartbeats the drain hook, ≤ 172680",
  ]);
  assert.equal(DRAIN_CEILING_SEC, 172_800);
  assert.deepEqual(problemsOf(stackWith("gcp-us-west1", DRAIN_CEILING_SEC + 1)), [
    "config.avfleet:fleet.drainSeconds: is 172801, expected seconds a host may take to drain its calls before it goes; the scale-in controller deletes its VM once drained, or 300 s past this, ≤ 172800",
  ]);
  // (A metal stack copied out of the project misses its inventory too: not this test's point.)
  assert.deepEqual(
    problemsOf(stackWith("metal-sjc", DRAIN_CEILING_SEC + 1)).filter(
      (p) => !p.includes(".inventory:"),
    ),
    [
      "config.avfleet:fleet.drainSeconds: is 172801, expected seconds a host may take to drain its calls; past them a rollout may restart its media server, and it goes when its operator retires it, ≤ 172800",
    ],
  );
  assert.deepEqual(problemsOf(stackWith("aws-us-east-1", 1800, -1)), [
    "config.avfleet:fleet.autoscaling.maxCutPerHost: is -1, expected calls a host may be expected to still hold at the drain limit and be scaled in: above it, its agent protects it from scale-in, ≥ 0",
  ]);
});

test("a drain beyond its platform's limit stops preview with exit 2, naming the file", () => {
  for (const [stack, drainSeconds, bound] of [
    ["aws-us-east-1", 200_000, 172_680],
    ["gcp-us-west1", 604_800, 172_800],
  ] as const) {
    const dir = mkdtempSync(join(tmpdir(), "drain-limit-"));
    writeFileSync(join(dir, "Pulumi.bad.yaml"), stackWith(stack, drainSeconds));
    const result = avfleet(["preview", "--stacks-dir", dir]);
    assert.equal(result.code, 2, stack);
    assert.equal(result.stdout, "");
    assert.match(
      result.stderr,
      new RegExp(
        `^${join(dir, "Pulumi.bad.yaml")}: config\\.avfleet:fleet\\.drainSeconds: is ${drainSeconds}, expected .*, ≤ ${bound}\\n$`,
      ),
    );
  }
});

test("GCP at its longest drain: the controller's marks, the agent, the units and the shutdown all take the two days", async (t) => {
  const longest = (config: Record<string, any>) => {
    config["avfleet:fleet"].drainSeconds = DRAIN_CEILING_SEC;
  };
  const plans = await evaluateVariants({
    longest: { stack: "gcp-us-west1", change: longest },
    "longest-container": {
      stack: "gcp-us-west1",
      change: (config) => {
        longest(config);
        const { package: _, aptSource: __, version, ...rest } = config["avfleet:fleet"].workload;
        config["avfleet:fleet"].workload = {
          ...rest,
          image: "us-west1-docker.pkg.dev/media-prod/sfu/avfleet-sfu",
          version: String(version).replace(/-\d+$/, ""),
          digest: `sha256:${"ab".repeat(32)}`,
        };
      },
    },
  });
  const [pool] = renderedPools(plans.longest.resources);
  const [container] = renderedPools(plans["longest-container"].resources);
  const fn = pool.resources.find((r) => r.inputs.serviceConfig?.environmentVariables?.[SCALE_IN_ENV]);
  const controller = JSON.parse(fn!.inputs.serviceConfig.environmentVariables[SCALE_IN_ENV]);
  assert.equal(controller.drainSeconds, DRAIN_CEILING_SEC);
  assert.equal(pool.agent.drainSeconds, DRAIN_CEILING_SEC);
  const agentJson = JSON.parse(pool.files.get("/etc/avfleet/agent.json")!);
  assert.equal(agentJson.leftAtLimit.limitMin, 2880);
  // The media server and the agent each get the drain and a minute; a shutdown waits for both.
  const units = [...pool.files].filter(([path]) => path.endsWith(".service"));
  const stops = units.flatMap(([path, text]) =>
    [...text.matchAll(/^TimeoutStopSec=(\d+)$/gm)].map((m) => [path, Number(m[1])]),
  );
  assert.deepEqual(
    stops.filter(([, sec]) => (sec as number) > 90),
    [
      ["/etc/systemd/system/sfu.service", 172_860],
      ["/etc/systemd/system/avfleet-agent.service", 172_860],
    ],
  );
  for (const target of ["poweroff", "reboot", "kexec", "halt"])
    assert.match(
      pool.files.get(`/etc/systemd/system/${target}.target.d/avfleet-drain.conf`)!,
      /^JobTimeoutSec=172920$/m,
    );
  assert.match(
    [...container.files.values()].join("\n"),
    / --stop-timeout=172800 /,
    "podman's own stop waits the drain",
  );
  // The controller keeps a mark two days and 300 s, a rollout's twice that, then deletes.
  if (!prerequisite(t, missingCommands("python3"))) return;
  const run = spawnSync(
    "python3",
    [
      "-c",
      `import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("main", ${JSON.stringify(join(ROOT, "modules/gcp-scale-in/controller.py"))})
main = importlib.util.module_from_spec(spec); spec.loader.exec_module(main)
d = json.load(sys.stdin)
hosts = [{"name": n, "markedAt": 1_000_000 - age, "load": 5, "drainSeen": True, **more} for n, age, more in d["hosts"]]
json.dump(sorted(h["name"] for h in main.expired_marks(hosts, 1_000_000, d["drainSeconds"])), sys.stdout)`,
    ],
    {
      input: JSON.stringify({
        drainSeconds: controller.drainSeconds,
        hosts: [
          ["in-drain", DRAIN_CEILING_SEC + 299, {}],
          ["expired", DRAIN_CEILING_SEC + 300, {}],
          ["rollout-in-drain", 2 * DRAIN_CEILING_SEC + 299, { drainFor: "r-1" }],
          ["rollout-expired", 2 * DRAIN_CEILING_SEC + 300, { drainFor: "r-1" }],
        ],
      }),
      encoding: "utf8",
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    },
  );
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), ["expired", "rollout-expired"]);
});
