import { test } from "node:test";
import assert from "node:assert/strict";
import { applyCommand } from "../../modules/host-payloads/metal-payload";
import { awsRead, gcpRead, metalRead, stateShas } from "../../modules/rollout/read";

const OLD = "a".repeat(64);
const NEW = "b".repeat(64);
const command = (host: string, sha: string) => ({
  type: "command:local:Command",
  urn: `urn:pulumi:metal-sjc::avfleet::avfleet:fleets:MetalFleet$command:local:Command::metal-sjc-${host}-tune`,
  inputs: {
    create: applyCommand({ config: ".avfleet/ssh/metal-sjc/config", host }, "avfleet", sha),
  },
});
const site = {
  stack: "metal-sjc",
  pool: "metal-sjc",
  drainSeconds: 1800,
  release: { rendered: "r-111111111111", classes: { r640: NEW } },
  hosts: [
    { name: "sjc-m001", rack: "r01", class: "r640" },
    { name: "sjc-m002", rack: "r02", class: "r640" },
  ],
};

test("a site's hosts are read from its state: the sha each host's command runs", () => {
  const exported = {
    deployment: { resources: [command("sjc-m001", OLD), command("sjc-m002", OLD)] },
  };
  assert.deepEqual(
    [...stateShas("metal-sjc", exported)],
    [
      ["sjc-m001", OLD],
      ["sjc-m002", OLD],
    ],
  );
  const pool = metalRead({ ...site, exported });
  assert.deepEqual(pool.from.classes, { r640: OLD });
  assert.equal(pool.labels.rendered, "bbbbbbbbbbbb");
  assert.equal(pool.labels.running, "aaaaaaaaaaaa");
  assert.deepEqual(
    pool.hosts.map((h) => [h.name, h.domain, h.release]),
    [
      ["sjc-m001", "r01", pool.running],
      ["sjc-m002", "r02", pool.running],
    ],
  );
});

test("a site whose hosts of one class run two payloads is refused, naming both", () => {
  const exported = {
    deployment: { resources: [command("sjc-m001", OLD), command("sjc-m002", NEW)] },
  };
  assert.throws(
    () => metalRead({ ...site, exported }),
    /class r640 run two payloads \(aaaaaaaaaaaa, bbbbbbbbbbbb\)/,
  );
});

test("a rollout under way keeps the from it started with, whatever the state says now", () => {
  const exported = {
    deployment: { resources: [command("sjc-m001", NEW), command("sjc-m002", OLD)] },
  };
  const rollout = {
    release: "r-111111111111",
    from: { id: "r-000000000000", classes: { r640: OLD } },
    plan: "0123456789ab",
    updated: 1,
    draining: -1,
    target: "release" as const,
    canaryShare: 0.01,
    maxUnavailable: 1,
    domainsAtOnce: 1,
  };
  const pool = metalRead({ ...site, exported, rollout });
  assert.equal(pool.running, "r-000000000000");
  assert.deepEqual(
    pool.hosts.map((h) => h.release),
    ["r-111111111111", "r-000000000000"],
  );
});

test("a GCP pool's hosts and releases are its MIG's instances by template name", () => {
  const link = (t: string) =>
    `https://www.googleapis.com/compute/v1/projects/p/global/instanceTemplates/${t}`;
  const pool = gcpRead({
    stack: "gcp-us-west1",
    pool: "gcp-usw1",
    drainSeconds: 1800,
    release: {
      rendered: "r-222222222222",
      template: `${link("sfu-new")}?uniqueId=4711`,
      running: link("sfu-old"),
    },
    listInstances: [
      {
        instance:
          "https://www.googleapis.com/compute/v1/projects/p/zones/us-west1-a/instances/sfu-1",
        version: { instanceTemplate: link("sfu-old") },
        currentAction: "NONE",
      },
    ],
  });
  assert.deepEqual(pool.labels, { rendered: "sfu-new", running: "sfu-old" });
  assert.deepEqual(pool.from, { template: link("sfu-old") });
  assert.deepEqual(pool.hosts, [{ name: "sfu-1", domain: "us-west1-a", release: "sfu-old" }]);
  // The gates query the label the hosts' agent puts on its series: the fleet's pool.
  assert.equal(pool.pool, "gcp-usw1");
  assert.throws(
    () =>
      gcpRead({
        stack: "g",
        pool: "g",
        drainSeconds: 1,
        release: { rendered: "r-222222222222", template: link("x"), running: link("x") },
        listInstances: [],
      }),
    /already points at r-222222222222's template; nothing to roll out/,
  );
});

test("an AWS pool's hosts are its group's instances in service, by launch template version", () => {
  const pool = awsRead({
    stack: "aws-us-east-1",
    pool: "aws-use1",
    drainSeconds: 1800,
    release: { rendered: "r-333333333333", version: 7, running: 6 },
    describeGroups: {
      AutoScalingGroups: [
        {
          Instances: [
            {
              InstanceId: "i-1",
              AvailabilityZone: "us-east-1a",
              LifecycleState: "InService",
              LaunchTemplate: { Version: "6" },
            },
            {
              InstanceId: "i-2",
              AvailabilityZone: "us-east-1b",
              LifecycleState: "Warmed:Stopped",
              LaunchTemplate: { Version: "6" },
            },
          ],
        },
      ],
    },
  });
  assert.deepEqual(pool.labels, { rendered: "v7", running: "v6" });
  assert.deepEqual(pool.from, { version: 6 });
  assert.deepEqual(pool.hosts, [{ name: "i-1", domain: "us-east-1a", release: "v6" }]);
});

test("a stack whose program has not recorded the release says to run up first", () => {
  assert.throws(
    () =>
      awsRead({
        stack: "aws-us-east-1",
        pool: "aws-use1",
        drainSeconds: 1,
        release: undefined,
        describeGroups: {},
      }),
    /outputs no release.rendered: run `pulumi up -s aws-us-east-1`/,
  );
});
