/**
 * The GCP scale-in controller (modules/gcp-scale-in/controller.py): its decision on a table of
 * cases, then whole passes of the function run by python3 against stand-in Compute, Cloud
 * Monitoring and metadata servers that check each request's documented shape; and what a
 * pool declares for it.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  GCP_DRAIN_AT_ATTRIBUTE,
  GCP_DRAIN_ATTRIBUTE,
  GCP_DRAIN_FOR_ATTRIBUTE,
  gcpDrainBucket,
} from "../../modules/host/metrics";
import {
  scaleInConfig,
  SCALE_IN_DELETE_PERMISSIONS,
  SCALE_IN_MARK_PERMISSIONS,
  SCALE_IN_READ_PERMISSIONS,
} from "../../modules/gcp-scale-in/controller";
import { HOST_SCOPES } from "../../modules/fleets/gcp-args";
import { autoscalerTarget } from "../../modules/gcp-scale-in/pool";
import { CORDON_MIN_IN_ROTATION, CORDON_TARGET_SHARE } from "../../modules/scaling/policies";
import { gcpStandIns, StandIns, type GcpPeer, type GcpPool } from "../../bench/host/stand-ins";
import { evaluateExamples, resource } from "../support/plans";
import { EUW4, EUW4_VM } from "../support/scale-in";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";

const CONTROLLER = join(ROOT, "modules/gcp-scale-in/controller.py");
const CASES = JSON.parse(
  readFileSync(join(ROOT, "test/fixtures/scale-in/decisions.json"), "utf8"),
) as Array<Record<string, any>>;
const PY_ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: "1" };
const load = [
  "import importlib.util, json, sys",
  `spec = importlib.util.spec_from_file_location("main", ${JSON.stringify(CONTROLLER)})`,
  "main = importlib.util.module_from_spec(spec); spec.loader.exec_module(main)",
].join("\n");

test("decide: outdated first, then the fewest calls expected at the drain limit, none over the per-host budget (those wait), never past size - recommended, never a draining host, rate-limited", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const run = spawnSync(
    "python3",
    [
      "-c",
      `${load}
out = []
for c in json.load(sys.stdin):
    out.append(main.decide(c["size"], c["recommended"], c["hosts"], c["now"], c["maxPerWindow"], c["windowSec"], c["maxCutPerHost"]))
json.dump(out, sys.stdout)`,
    ],
    { input: JSON.stringify(CASES), encoding: "utf8", env: PY_ENV },
  );
  assert.equal(run.status, 0, run.stderr);
  const got = JSON.parse(run.stdout) as [string[], string[]][];
  for (const [i, c] of CASES.entries()) assert.deepEqual(got[i], [c.expect, c.waiting], c.case);
});

test("to_cordon: keeps in rotation the load's need at 80 % of the target plus one, at least two, at least the recommendation less the draining; the set moves only by the count, those cordoned kept", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const host = (name: string, load: number | null, left: number, more = {}) => ({
    name,
    running: true,
    load,
    left,
    markedAt: null,
    ...more,
  });
  const pool = (a: number) => [
    host("a", a, 5),
    host("b", 20, 1),
    host("c", 30, 12),
    host("d", 90, 30, { outdated: true }),
    // draining: its load counts, it is never cordoned
    host("e", 40, 0, { markedAt: 99_000 }),
    // booting or silent, or not running: never cordoned
    host("f", null, 0),
    host("g", 10, 0, { running: false }),
  ];
  const cordoned = (hosts: ReturnType<typeof pool>, ...names: string[]) =>
    hosts.map((h) => ({ ...h, cordoned: names.includes(h.name) }));
  const run = spawnSync(
    "python3",
    [
      "-c",
      `${load}
json.dump([main.to_cordon(*case) for case in json.load(sys.stdin)], sys.stdout)`,
    ],
    {
      input: JSON.stringify([
        // 340 streams at 1000: 1 host at 800, plus one: the outdated one, then the fewest
        // calls expected at the limit, are cordoned
        [pool(150), 1000, null],
        // at 200 the load fits 2 hosts, but at 160 it needs 3, plus one: all four serve
        [pool(150), 200, null],
        // load returns (a at 1500: 1,690 streams, 3 hosts at 800, plus one): every cordon lifted
        [pool(1500), 1000, null],
        // no load at all: two hosts, the last to be drained, keep taking joins
        [pool(0).map((h) => ({ ...h, load: h.load === null ? null : 0 })), 200, null],
        // the recommendation of 4, less e draining, keeps 3
        [pool(150), 1000, 4],
        // a and c cordoned already: they stay so, though d and b come first in drain order
        [cordoned(pool(150), "a", "c"), 1000, null],
        // one to lift of d, b, a: the last in drain order go back first
        [cordoned(pool(150), "a", "b", "d"), 1000, 4],
        // ...and one more to cordon beside c: the first in drain order
        [cordoned(pool(150), "c"), 1000, null],
      ]),
      encoding: "utf8",
      env: PY_ENV,
    },
  );
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), [
    ["d", "b"],
    [],
    [],
    ["d", "b"],
    ["d"],
    ["a", "c"],
    ["d"],
    ["c", "d"],
  ]);
});

test("the replay's GCP cordon keeps in rotation what controller.py keeps", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const run = spawnSync(
    "python3",
    [
      "-c",
      `${load}
json.dump([main.CORDON_TARGET_SHARE, main.CORDON_MIN_IN_ROTATION, main.in_rotation(1000, 500, 9, 2)], sys.stdout)`,
    ],
    { encoding: "utf8", env: PY_ENV },
  );
  assert.equal(run.status, 0, run.stderr);
  // 1,000 streams at 400 a host: 3 plus one; the recommendation of 9 less 2 draining: 7
  assert.deepEqual(JSON.parse(run.stdout), [CORDON_TARGET_SHARE, CORDON_MIN_IN_ROTATION, 7]);
});

test("to_delete: a marked host whose drain is done, or whose mark outlived the limit once it drained or went silent; blind: one that never saw its mark and still serves", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const now = 100_000;
  const drainSeconds = 7200;
  const host = (
    name: string,
    markedAt: number | null,
    drainDone?: boolean,
    drainFor?: string,
    { load = 10 as number | null, drainSeen = drainDone } = {},
  ) => ({
    name,
    running: true,
    load,
    markedAt,
    ...(drainDone === undefined ? {} : { drainDone }),
    ...(drainSeen === undefined ? {} : { drainSeen }),
    ...(drainFor === undefined ? {} : { drainFor }),
  });
  const hosts = [
    host("serving", null),
    // a done attribute without a mark is not the controller's doing: left alone
    host("unmarked-but-done", null, true),
    host("drained", now - 60, true),
    host("draining", now - 60, false),
    host("draining-no-attribute", now - drainSeconds),
    // past the limit and the margin: its agent said it drained (its calls had the limit)...
    host("drained-at-limit", now - drainSeconds - 300, false, undefined, { drainSeen: true }),
    // ...or its agent is gone: no load
    host("agent-died", now - drainSeconds - 300, undefined, undefined, { load: null }),
    // ...but one that never saw its mark and still serves keeps its calls
    host("blind", now - drainSeconds - 300),
    // a mark of unknown time (an operator's) never expires: only its agent's word takes it away
    host("operator-mark", 0),
    host("operator-mark-drained", 0, true),
    // a rollout's drain: the rollout recreates the VM, drained or past its limit
    host("rollout-drained", now - 60, true, "r-0123456789ab"),
    host("rollout-agent-died", now - drainSeconds - 300, false, "r-0123456789ab"),
    // a rollout killed after its mark: after twice the limit the host is taken out like any
    host("rollout-abandoned", now - 2 * drainSeconds - 300, true, "r-0123456789ab"),
  ];
  const run = spawnSync(
    "python3",
    [
      "-c",
      `${load}
hosts, now, drain = json.load(sys.stdin)
json.dump([main.to_delete(hosts, now, drain), main.blind(hosts, now, drain)], sys.stdout)`,
    ],
    { input: JSON.stringify([hosts, now, drainSeconds]), encoding: "utf8", env: PY_ENV },
  );
  assert.equal(run.status, 0, run.stderr);
  const [deleted, blind] = JSON.parse(run.stdout);
  assert.deepEqual(deleted, [
    "drained",
    "drained-at-limit",
    "agent-died",
    "operator-mark-drained",
    "rollout-abandoned",
  ]);
  assert.deepEqual(blind, ["blind"]);
});

const euw4 = EUW4;
const VM = EUW4_VM;
const AUTOSCALER = "gcp-euw4-autoscaler-77c1";
/** The pool's mark bucket, and a mark object's key in the stand-ins: "<bucket>/drain/<VM>". */
const MARKS = gcpDrainBucket(VM.project, EUW4.pool);
const markKey = (vm: string) => `${MARKS}/drain/${vm}`;

function peer(name: string, zone: string, load?: number, items?: GcpPeer["items"]): GcpPeer {
  return { name, zone, id: `60000000000000000${name.slice(-2)}`, load, items };
}

/**
 * One pass of the controller against the stand-ins at `endpoint`, for the autoscaler named,
 * at the given rate: `python3 main.py` (its stdout) or, with `program`, that Python code run
 * after loading main.py as `main`.
 */
async function controller(
  endpoint: string,
  { rate = euw4.autoscaling.scaleIn, autoscaler = AUTOSCALER, program = "" } = {},
): Promise<string> {
  const config = scaleInConfig(
    { ...euw4, autoscaling: { ...euw4.autoscaling, scaleIn: rate } },
    VM.project,
    VM.region,
    { instanceGroupManager: VM.group, autoscaler },
  );
  const args = program ? ["-c", `${load}\n${program}`] : [CONTROLLER];
  const { stdout, stderr } = await promisify(execFile)("python3", args, {
    env: {
      ...PY_ENV,
      AVFLEET_SCALE_IN: JSON.stringify(config),
      AVFLEET_SCALE_IN_ENDPOINTS: JSON.stringify({
        metadata: endpoint,
        compute: endpoint,
        storage: endpoint,
      }),
    },
  });
  lastLog = stderr;
  return stdout.trim();
}

/** What the last pass logged (the function's stderr, Cloud Logging's on GCP). */
let lastLog = "";

const pass = async (endpoint: string, rate: { maxHostsPerWindow: number; windowSec: number }) =>
  JSON.parse(await controller(endpoint, { rate }));

test("a pass against stand-in Compute marks the hosts with the fewest calls expected at the limit by their own word (an old agent's streams / 4), by an object in the pool's mark bucket, leaving their metadata alone; the two left serving stay in rotation", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const s = new StandIns("127.0.0.1");
  try {
    const g = await gcpStandIns(s, VM, {
      autoscaler: AUTOSCALER,
      recommendedSize: 3,
      pageSize: 2,
      peers: [
        // an agent of #28: 1200 streams, 25 calls expected at the drain limit
        {
          ...peer("gcp-euw4-c3d4", "europe-west4-b", 1200, [
            { key: "ssh-keys", value: "ops:ssh-ed25519 AAAA" },
          ]),
          guest: { "avfleet/load": `${Math.floor(Date.now() / 1000)} 1200 25.00` },
        },
        // old agents: every call counted as left, 20, 600 and 10
        peer("gcp-euw4-e5f6", "europe-west4-c", 80),
        peer("gcp-euw4-g7h8", "europe-west4-a", 2400),
        peer("gcp-euw4-i9j0", "europe-west4-b", 40),
        // no load of its own: booting or not publishing, never picked
        peer("gcp-euw4-k1l2", "europe-west4-c"),
      ],
    });
    // six VMs (the agent's own publishes nothing here), recommendation 3, 2 per 900 s
    let report = await pass(g.endpoints.compute, { maxHostsPerWindow: 2, windowSec: 900 });
    assert.deepEqual(s.problems, [], "every request matched the API's documented shape");
    // 3,720 streams need 2 hosts at 80 % of 4,200, plus one: c3d4 and g7h8, still serving,
    // both stay in rotation
    assert.deepEqual(report, {
      size: 6,
      recommended: 3,
      draining: 0,
      marked: ["gcp-euw4-i9j0", "gcp-euw4-e5f6"],
      waiting: [],
      cordoned: [],
      deleted: [],
      blind: [],
    });
    assert.deepEqual(
      s.calls.filter((c) => c.action === "objects.insert").map((c) => c.body),
      [
        { bucket: MARKS, name: "drain/gcp-euw4-i9j0" },
        { bucket: MARKS, name: "drain/gcp-euw4-e5f6" },
      ],
    );
    assert.deepEqual([...g.objects().keys()], [markKey("gcp-euw4-i9j0"), markKey("gcp-euw4-e5f6")]);
    // paging: 6 managed instances at 2 a page is 3 listManagedInstances calls
    assert.equal(s.count("compute", "listManagedInstances"), 3);

    // The next minute: both still drain; 6 - 3 - 2 leaves one, but the window allows no more.
    report = await pass(g.endpoints.compute, { maxHostsPerWindow: 2, windowSec: 900 });
    assert.deepEqual(report.marked, [], "the window's allowance is spent");
    assert.equal(report.draining, 2);
    // With a wider allowance, the third goes; its metadata is as it was.
    report = await pass(g.endpoints.compute, { maxHostsPerWindow: 3, windowSec: 900 });
    assert.deepEqual(report.marked, ["gcp-euw4-c3d4"]);
    assert.ok(g.objects().has(markKey("gcp-euw4-c3d4")));
    const c3d4 = g.vms().find((v) => v.name === "gcp-euw4-c3d4")!;
    assert.deepEqual(
      c3d4.items.map((i) => i.key),
      ["created-by", "ssh-keys"],
    );
    // g7h8, alone in rotation, is never cordoned (with every backend failing its check the
    // balancer would send new connections to all of them)
    assert.deepEqual(report.cordoned, []);
    assert.equal(s.count("storage", "objects.insert"), 3, "no cordon written on the way");
    report = await pass(g.endpoints.compute, { maxHostsPerWindow: 9, windowSec: 900 });
    assert.deepEqual(report.marked, [], "3 draining cover 6 - 3: nothing more");
    assert.deepEqual(s.problems, []);
  } finally {
    s.close();
  }
});

test("a pass deletes the marked hosts whose drain is done or whose mark expired, then marks hosts on an old template first", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const s = new StandIns("127.0.0.1");
  const markedAgo = (sec: number) => [
    { key: "avfleet-drain", value: "true" },
    {
      key: "avfleet-drain-at",
      value: new Date(Date.now() - sec * 1000).toISOString().replace(/\.\d+Z$/, "Z"),
    },
  ];
  try {
    const g = await gcpStandIns(s, VM, {
      autoscaler: AUTOSCALER,
      recommendedSize: 2,
      peers: [
        // its agent wrote the attribute at zero sessions
        {
          ...peer("gcp-euw4-c3d4", "europe-west4-b", 0, markedAgo(60)),
          guest: { "avfleet/drain": "done 1700000000 0" },
        },
        // still draining
        peer("gcp-euw4-e5f6", "europe-west4-c", 300, markedAgo(60)),
        // the controller marked it longer ago than the drain limit and the margin (its object,
        // below): its agent is gone, no load
        peer("gcp-euw4-g7h8", "europe-west4-a"),
        // marked as long ago, still serving, never said it saw the mark: blind, kept
        peer("gcp-euw4-p5q6", "europe-west4-c", 30),
        // drained for a rollout: the rollout recreates it, the controller leaves it
        {
          ...peer("gcp-euw4-m3n4", "europe-west4-a", 0, [
            ...markedAgo(60),
            { key: GCP_DRAIN_FOR_ATTRIBUTE, value: "r-0123456789ab" },
          ]),
          guest: { "avfleet/drain": "done 1700000000 0" },
        },
        {
          ...peer("gcp-euw4-i9j0", "europe-west4-b", 2000),
          guest: { "avfleet/load": `${Math.floor(Date.now() / 1000)} 2000 30.00` },
          outdated: true,
        },
        peer("gcp-euw4-k1l2", "europe-west4-c", 5),
      ],
      objects: {
        [markKey("gcp-euw4-g7h8")]: new Date(
          Date.now() - (euw4.drainSeconds + 400) * 1000,
        ).toISOString(),
        [markKey("gcp-euw4-p5q6")]: new Date(
          Date.now() - (euw4.drainSeconds + 400) * 1000,
        ).toISOString(),
      },
    });
    const report = await pass(g.endpoints.compute, { maxHostsPerWindow: 3, windowSec: 900 });
    assert.deepEqual(s.problems, [], "every request matched the API's documented shape");
    // 8 - 2 deleted = 6; recommended 2, three draining (one for the rollout, one blind): one
    // more, the outdated one first.
    assert.deepEqual(report, {
      size: 6,
      recommended: 2,
      draining: 3,
      marked: ["gcp-euw4-i9j0"],
      waiting: [],
      cordoned: [],
      deleted: ["gcp-euw4-c3d4", "gcp-euw4-g7h8"],
      blind: ["gcp-euw4-p5q6"],
    });
    const deletes = s.calls.filter((c) => c.action === "deleteInstances").map((c) => c.body);
    assert.deepEqual(deletes, [
      {
        // in the order the controller lists hosts: by zone, then name
        instances: [
          `https://www.googleapis.com/compute/v1/projects/${VM.project}/zones/europe-west4-a/instances/gcp-euw4-g7h8`,
          `https://www.googleapis.com/compute/v1/projects/${VM.project}/zones/europe-west4-b/instances/gcp-euw4-c3d4`,
        ],
        skipInstancesOnValidationError: true,
      },
    ]);
    // every member's own word is read once: its load, and a marked host's drain
    assert.deepEqual(
      s.calls
        .filter((c) => c.action === "getGuestAttributes")
        .map((c) => (c.body as { instance: string }).instance)
        .sort(),
      [
        VM.name,
        "gcp-euw4-c3d4",
        "gcp-euw4-e5f6",
        "gcp-euw4-g7h8",
        "gcp-euw4-i9j0",
        "gcp-euw4-k1l2",
        "gcp-euw4-m3n4",
        "gcp-euw4-p5q6",
      ],
    );
    assert.deepEqual(
      g.vms().map((v) => v.name),
      [
        VM.name,
        "gcp-euw4-e5f6",
        "gcp-euw4-p5q6",
        "gcp-euw4-m3n4",
        "gcp-euw4-i9j0",
        "gcp-euw4-k1l2",
      ],
    );
    // a deleted VM's mark goes with it (a later VM of its name is not born marked); the blind
    // host keeps its own; the new mark is the outdated host's
    assert.deepEqual([...g.objects().keys()], [markKey("gcp-euw4-p5q6"), markKey("gcp-euw4-i9j0")]);
  } finally {
    s.close();
  }
});

test("a host over the per-host budget waits and says why in the log; with two serving, both stay in rotation", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const s = new StandIns("127.0.0.1");
  const now = Math.floor(Date.now() / 1000);
  try {
    const g = await gcpStandIns(s, VM, {
      autoscaler: AUTOSCALER,
      recommendedSize: 1,
      peers: [
        {
          ...peer("gcp-euw4-w1x2", "europe-west4-b", 3000),
          guest: { "avfleet/load": `${now} 3000 80.00` },
        },
        {
          ...peer("gcp-euw4-y3z4", "europe-west4-c", 100),
          guest: { "avfleet/load": `${now} 100 50.00` },
        },
      ],
    });
    const report = await pass(g.endpoints.compute, { maxHostsPerWindow: 9, windowSec: 900 });
    assert.deepEqual(s.problems, []);
    // this VM publishes nothing: 3,100 streams need one host, plus the silent one: 2 of 3
    assert.deepEqual(report, {
      size: 3,
      recommended: 2,
      draining: 0,
      marked: [],
      waiting: ["gcp-euw4-y3z4"],
      cordoned: [],
      deleted: [],
      blind: [],
    });
    assert.match(
      lastLog,
      /waiting: gcp-euw4-y3z4 expects 50\.0 call\(s\) at the drain limit, over the budget of 35 per host/,
    );
    assert.deepEqual([...g.objects().keys()], []);
  } finally {
    s.close();
  }
});

/** Runs `body` against stand-ins of this pool (the autoscaler AUTOSCALER), closed after. */
async function onPool(
  t: TestContext,
  pool: Omit<GcpPool, "autoscaler">,
  body: (g: Awaited<ReturnType<typeof gcpStandIns>>, s: StandIns) => Promise<void>,
): Promise<void> {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const s = new StandIns("127.0.0.1");
  try {
    await body(await gcpStandIns(s, VM, { autoscaler: AUTOSCALER, ...pool }), s);
  } finally {
    s.close();
  }
}

test("cordons across passes: the serving hosts beyond the load at 80 % of the target plus one; the set moves only by the count, those cordoned kept, a cordon in place not written again", async (t) => {
  const at = () => Math.floor(Date.now() / 1000);
  // Every host expects more than the budget of 35 calls at the limit: none drains, all wait.
  const loads: Array<[string, number, number]> = [
    ["gcp-euw4-aa01", 400, 40],
    ["gcp-euw4-bb02", 800, 50],
    ["gcp-euw4-cc03", 1200, 60],
    ["gcp-euw4-dd04", 1600, 70],
    ["gcp-euw4-ee05", 2000, 80],
  ];
  await onPool(
    t,
    {
      recommendedSize: 3,
      peers: loads.map(([name, streams, left]) => ({
        ...peer(name, "europe-west4-b"),
        guest: { "avfleet/load": `${at()} ${streams} ${left}.00` },
      })),
    },
    async (g, s) => {
      const rate = { maxHostsPerWindow: 9, windowSec: 900 };
      // 6,000 streams: 2 hosts at 3,360 (80 % of 4,200), plus one: 3 of the 5 serve
      let report = await pass(g.endpoints.compute, rate);
      assert.deepEqual(s.problems, []);
      assert.deepEqual(report.marked, []);
      assert.deepEqual(report.cordoned, ["gcp-euw4-aa01", "gcp-euw4-bb02"]);
      const inserts = s.count("storage", "objects.insert");
      assert.equal(inserts, 2);
      // aa01's calls last: it now expects the most at the limit. Same count: the same two.
      g.setGuest("gcp-euw4-aa01", "avfleet/load", `${at()} 400 90.00`);
      report = await pass(g.endpoints.compute, rate);
      assert.deepEqual(report.cordoned, ["gcp-euw4-aa01", "gcp-euw4-bb02"]);
      assert.equal(s.count("storage", "objects.insert"), inserts, "no cordon written again");
      assert.equal(s.count("storage", "objects.delete"), 0, "no cordon lifted");
      // ee05 at 6,000: 10,000 streams need 3 at 3,360, plus one: of the two cordoned, the one
      // drained first stays so, aa01 goes back in rotation
      g.setGuest("gcp-euw4-ee05", "avfleet/load", `${at()} 6000 80.00`);
      report = await pass(g.endpoints.compute, rate);
      assert.deepEqual(report.cordoned, ["gcp-euw4-bb02"]);
      assert.deepEqual([...g.objects().keys()], [`${MARKS}/cordon/gcp-euw4-bb02`]);
      assert.deepEqual(s.problems, []);
    },
  );
});

test("a pass retries 429 and 5xx with backoff; a host whose reads still fail has its load unknown (not drained, its cordon left), said in the log, and the pass goes on", async (t) => {
  const now = Math.floor(Date.now() / 1000);
  await onPool(
    t,
    {
      recommendedSize: 1,
      peers: [
        { ...peer("gcp-euw4-r1r1", "europe-west4-b"), guest: { "avfleet/load": `${now} 40 2.00` } },
        { ...peer("gcp-euw4-u2u2", "europe-west4-c"), guest: { "avfleet/load": `${now} 10 1.00` } },
        { ...peer("gcp-euw4-s3s3", "europe-west4-a"), guest: { "avfleet/load": `${now} 80 4.00` } },
      ],
      objects: { [`${MARKS}/cordon/gcp-euw4-u2u2`]: new Date(now * 1000).toISOString() },
      faults: [
        // the autoscaler over Compute's rate quota once, r1r1's guest attributes once: retried
        { request: /^GET .*\/autoscalers\//, statuses: [429] },
        { request: /^GET .*\/gcp-euw4-r1r1\/getGuestAttributes$/, statuses: [503] },
        // u2u2 (the quietest, cordoned) cannot be read: four answers of 503 outlast the retries
        { request: /^GET .*\/instances\/gcp-euw4-u2u2$/, statuses: [503, 503, 503, 503] },
      ],
    },
    async (g, s) => {
      const started = Date.now();
      const report = JSON.parse(
        await controller(g.endpoints.compute, {
          rate: { maxHostsPerWindow: 9, windowSec: 900 },
          program: "print(json.dumps(main.run_once(*main.settings(), main.time.time())))",
        }),
      );
      assert.deepEqual(s.problems, []);
      assert.equal(s.count("fault", "429") + s.count("fault", "503"), 6, "every fault answered");
      // backoff: 1 s (429), 1 s (r1r1), then 1 + 2 + 4 s for u2u2, each up to twice that
      assert.ok(Date.now() - started >= 7000, "u2u2's retries paused 1, 2 and 4 s at least");
      // u2u2's load unknown: 130 streams need one host, plus u2u2 and this VM (it publishes
      // nothing): 3 of 4; of r1r1 and s3s3, r1r1 expects fewer calls at the limit
      assert.equal(report.recommended, 3);
      assert.deepEqual(report.marked, ["gcp-euw4-r1r1"]);
      assert.ok(!report.marked.includes("gcp-euw4-u2u2"));
      assert.ok(
        g.objects().has(`${MARKS}/cordon/gcp-euw4-u2u2`),
        "an unread host's cordon is neither lifted nor set",
      );
      assert.match(lastLog, /unread: gcp-euw4-u2u2: GET .*HTTP 503.*its load is unknown this pass/);
    },
  );
});

test("the retries are bounded: none starts past RETRY_WITHIN_SEC into the pass, and the error then fails it", async (t) => {
  await onPool(
    t,
    {
      recommendedSize: 1,
      peers: [],
      faults: [{ request: /^GET .*\/autoscalers\//, statuses: [503, 503] }],
    },
    async (g, s) => {
      const out = await controller(g.endpoints.compute, {
        program: `main.RETRY_WITHIN_SEC = 0
try:
    main.run_once(*main.settings(), main.time.time())
except main.ApiError as error:
    print(error)`,
      });
      assert.match(out, /^GET .*autoscalers.*HTTP 503/);
      assert.equal(s.count("fault", "503"), 1, "no second attempt");
    },
  );
});

test("a pass where no running member reports its load says so in the log (a template without enable-guest-attributes)", async (t) => {
  await onPool(
    t,
    {
      recommendedSize: 1,
      peers: [peer("gcp-euw4-n1n1", "europe-west4-b"), peer("gcp-euw4-n2n2", "europe-west4-c")],
    },
    async (g, s) => {
      const report = await pass(g.endpoints.compute, { maxHostsPerWindow: 9, windowSec: 900 });
      assert.deepEqual(s.problems, []);
      assert.deepEqual([report.marked, report.cordoned], [[], []]);
      assert.match(
        lastLog,
        /no load: none of the 3 running member\(s\) reported avfleet\/load in the last 300 s.*enable-guest-attributes=TRUE/,
      );
      // one host reporting: no such line
      g.setGuest("gcp-euw4-n1n1", "avfleet/load", `${Math.floor(Date.now() / 1000)} 10 1.00`);
      await pass(g.endpoints.compute, { maxHostsPerWindow: 9, windowSec: 900 });
      assert.doesNotMatch(lastLog, /no load:/);
    },
  );
});

test("the function's HTTP entry point answers 200 with its report, 500 when an API fails", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const s = new StandIns("127.0.0.1");
  try {
    const g = await gcpStandIns(s, VM, {
      autoscaler: AUTOSCALER,
      recommendedSize: undefined,
      peers: [peer("gcp-euw4-c3d4", "europe-west4-b", 10)],
    });
    const entry = (autoscaler: string) =>
      controller(g.endpoints.compute, {
        autoscaler,
        program: "body, status = main.scale_in(None)\nprint(status, body)",
      });
    // no recommendation yet: nothing marked
    assert.equal(
      await entry(AUTOSCALER),
      '200 {"size": 2, "recommended": null, "draining": 0, "marked": [], "waiting": [], "cordoned": [], "deleted": [], "blind": []}',
    );
    assert.match(await entry("no-such-autoscaler"), /^500 \{"error": "GET .*HTTP 404/);
  } finally {
    s.close();
  }
});

test("every pool declares its controller, a 30-minute drain as a 2-hour one", async () => {
  const [euw4Plan, usw1Plan] = await evaluateExamples("gcp-europe-west4", "gcp-us-west1");
  const component = resource(euw4Plan, "gcp-euw4-scale-in");
  assert.equal(component.type, "avfleet:fleets:GcpScaleIn");
  assert.equal(component.parent, resource(euw4Plan, "gcp-euw4").urn);
  assert.equal(
    resource(euw4Plan, "gcp-euw4-autoscaler").inputs.autoscalingPolicy.mode,
    "ONLY_SCALE_OUT",
  );
  const fn = resource(euw4Plan, "gcp-euw4-scale-in-fn").inputs;
  assert.equal(fn.buildConfig.entryPoint, "scale_in");
  // a changed source is a new object, which is what makes the function rebuild
  assert.match(fn.buildConfig.source.storageSource.object, /^scale-in-[0-9a-f]{16}\.zip$/);
  assert.equal(
    fn.buildConfig.source.storageSource.object,
    resource(euw4Plan, "gcp-euw4-scale-in-source-zip").inputs.name,
  );
  assert.match(fn.buildConfig.runtime, /^python3\d+$/);
  assert.equal(fn.serviceConfig.maxInstanceCount, 1, "one pass at a time");
  // the MIG and autoscaler by the names the provider gives them (the mock: their logical names)
  assert.deepEqual(JSON.parse(fn.serviceConfig.environmentVariables.AVFLEET_SCALE_IN), {
    project: "media-prod-euw4",
    region: "europe-west4",
    instanceGroupManager: "gcp-euw4-mig",
    autoscaler: "gcp-euw4-autoscaler",
    hostTarget: autoscalerTarget(euw4),
    drainSeconds: 7200,
    maxHostsPerWindow: 1,
    windowSec: 900,
    maxCutPerHost: 35,
    streamsPerSession: 4,
    drainMarks: {
      bucket: gcpDrainBucket("media-prod-euw4", "gcp-euw4"),
      prefix: "drain/",
      cordonPrefix: "cordon/",
    },
    endpoints: {
      metadata: "http://metadata.google.internal",
      compute: "https://compute.googleapis.com",
      storage: "https://storage.googleapis.com",
    },
  });
  assert.deepEqual(
    resource(euw4Plan, "gcp-euw4-scale-in-read").inputs.permissions,
    SCALE_IN_READ_PERMISSIONS,
  );
  // the mark: objects under drain/ of the pool's mark bucket, a binding on that bucket alone
  const marks = gcpDrainBucket("media-prod-euw4", "gcp-euw4");
  assert.deepEqual(resource(euw4Plan, "gcp-euw4-scale-in-marks").inputs.name, marks);
  // no soft delete: each lifted cordon and each deleted mark would be kept (and billed) 7 days
  assert.deepEqual(resource(euw4Plan, "gcp-euw4-scale-in-marks").inputs.softDeletePolicy, {
    retentionDurationSeconds: 0,
  });
  assert.deepEqual(resource(euw4Plan, "gcp-euw4-scale-in-mark").inputs.permissions, [
    "storage.objects.create",
    "storage.objects.delete",
    "storage.objects.get",
  ]);
  assert.deepEqual(SCALE_IN_MARK_PERMISSIONS, [
    "storage.objects.create",
    "storage.objects.delete",
    "storage.objects.get",
  ]);
  const markMember = resource(euw4Plan, "gcp-euw4-scale-in-mark-member");
  assert.equal(markMember.type, "gcp:storage/bucketIAMMember:BucketIAMMember");
  assert.equal(
    markMember.inputs.condition.expression,
    `resource.type == "storage.googleapis.com/Object" && ` +
      `(resource.name.startsWith("projects/_/buckets/${marks}/objects/drain/") || ` +
      `resource.name.startsWith("projects/_/buckets/${marks}/objects/cordon/"))`,
  );
  // the VM delete holds only on the pool's VMs
  assert.match(
    resource(euw4Plan, "gcp-euw4-scale-in-delete-member").inputs.condition.expression,
    /resource\.name\.extract\("\/instances\/\{name\}"\)\.startsWith\("gcp-euw4-"\)/,
  );
  assert.equal(resource(euw4Plan, "gcp-euw4-scale-in-read-member").inputs.condition, undefined);
  // each member is read on its own, only on the pool's VMs: no project-wide instances.list
  assert.deepEqual(resource(euw4Plan, "gcp-euw4-scale-in-inspect").inputs.permissions, [
    "compute.instances.get",
    "compute.instances.getGuestAttributes",
  ]);
  assert.equal(
    resource(euw4Plan, "gcp-euw4-scale-in-inspect-member").inputs.condition.expression,
    resource(euw4Plan, "gcp-euw4-scale-in-delete-member").inputs.condition.expression,
  );
  assert.deepEqual(SCALE_IN_READ_PERMISSIONS, [
    "compute.autoscalers.get",
    "compute.instanceGroupManagers.get",
    "compute.instanceGroupManagers.list",
  ]);
  // the controller deletes drained hosts: the VMs' part only on the pool's VMs; the MIG's part
  // unconditioned (IAM conditions do not recognize InstanceGroupManager names: one naming the MIG
  // would never hold)
  assert.deepEqual(resource(euw4Plan, "gcp-euw4-scale-in-delete").inputs.permissions, [
    "compute.instances.delete",
  ]);
  assert.deepEqual(SCALE_IN_DELETE_PERMISSIONS, ["compute.instances.delete"]);
  const deleteMember = resource(euw4Plan, "gcp-euw4-scale-in-delete-member").inputs;
  assert.match(deleteMember.member, /^serviceAccount:gcp-euw4-scalein@/);
  assert.equal(
    deleteMember.condition.expression,
    'resource.type == "compute.googleapis.com/Instance" && resource.name.extract("/instances/{name}").startsWith("gcp-euw4-")',
  );
  assert.deepEqual(resource(euw4Plan, "gcp-euw4-scale-in-resize").inputs.permissions, [
    "compute.instanceGroupManagers.update",
  ]);
  const resizeMember = resource(euw4Plan, "gcp-euw4-scale-in-resize-member").inputs;
  assert.equal(resizeMember.condition, undefined);
  assert.doesNotMatch(JSON.stringify(euw4Plan.resources), /instanceGroupManagers\/[^"]*"\s*\|\|/);
  // the hosts: no compute scope, no role that deletes or changes a VM or a MIG
  const template = resource(euw4Plan, "gcp-euw4-template").inputs;
  assert.deepEqual(template.serviceAccount.scopes, HOST_SCOPES);
  assert.ok(!HOST_SCOPES.some((scope) => /auth\/(compute|cloud-platform)/.test(scope)));
  assert.equal(template.metadata["enable-guest-attributes"], "TRUE");
  const hostMember = `serviceAccount:${template.serviceAccount.email}`;
  const hostRoles = euw4Plan.resources
    .filter((r) => r.type === "gcp:projects/iAMMember:IAMMember" && r.inputs.member === hostMember)
    .map((r) => r.inputs.role);
  assert.deepEqual(hostRoles.sort(), ["roles/logging.logWriter", "roles/monitoring.metricWriter"]);
  // a hardened org: the function builds as its own account, with the roles a build needs
  assert.match(
    fn.buildConfig.serviceAccount,
    /^projects\/media-prod-euw4\/serviceAccounts\/gcp-euw4-scalein-bld@/,
  );
  const buildMember = `serviceAccount:${fn.buildConfig.serviceAccount.split("/").pop()}`;
  assert.deepEqual(
    euw4Plan.resources
      .filter(
        (r) => r.type === "gcp:projects/iAMMember:IAMMember" && r.inputs.member === buildMember,
      )
      .map((r) => r.inputs.role)
      .sort(),
    ["roles/artifactregistry.writer", "roles/logging.logWriter", "roles/storage.objectAdmin"],
  );
  // and the stack enables the APIs it calls, never turning one off on destroy
  const services = euw4Plan.resources.filter((r) => r.type === "gcp:projects/service:Service");
  assert.deepEqual(
    services.map((r) => r.inputs.service).sort(),
    [
      "artifactregistry",
      "cloudbuild",
      "cloudfunctions",
      "cloudscheduler",
      "compute",
      "iam",
      "logging",
      "monitoring",
      "run",
      "storage",
      ...(euw4Plan.resources.some((r) => r.name === "gcp-euw4-endpoint") ? ["dns"] : []),
    ]
      .map((api) => `${api}.googleapis.com`)
      .sort(),
  );
  for (const r of services) assert.equal(r.inputs.disableOnDestroy, false, r.name);
  const job = resource(euw4Plan, "gcp-euw4-scale-in-schedule").inputs;
  assert.equal(job.schedule, "* * * * *");
  assert.equal(job.httpTarget.httpMethod, "POST");
  assert.match(job.httpTarget.uri, /^https:\/\/.*gcp-euw4-scale-in-fn$/);
  assert.equal(job.httpTarget.oidcToken.audience, job.httpTarget.uri);
  assert.match(job.httpTarget.oidcToken.serviceAccountEmail, /^gcp-euw4-scalein-inv@/);
  const invoke = resource(euw4Plan, "gcp-euw4-scale-in-invoke").inputs;
  assert.equal(invoke.role, "roles/run.invoker");
  assert.equal(invoke.member, `serviceAccount:${job.httpTarget.oidcToken.serviceAccountEmail}`);
  // gcp-us-west1 drains 1800 s: its autoscaler never scales in either.
  assert.equal(resource(usw1Plan, "gcp-usw1-scale-in").type, "avfleet:fleets:GcpScaleIn");
  assert.equal(
    resource(usw1Plan, "gcp-usw1-autoscaler").inputs.autoscalingPolicy.mode,
    "ONLY_SCALE_OUT",
  );
});

test("a replaced instance template stays in the project: OPPORTUNISTIC VMs still use it, and GCE refuses to delete a template in use", async () => {
  const [euw4Plan] = await evaluateExamples("gcp-europe-west4");
  const template = resource(euw4Plan, "gcp-euw4-template");
  assert.equal(template.retainOnDelete, true);
  assert.equal(resource(euw4Plan, "gcp-euw4-mig").inputs.updatePolicy.type, "OPPORTUNISTIC");
});

test("the controller's metadata keys are the ones the agent and a rollout write", () => {
  const source = readFileSync(CONTROLLER, "utf8");
  assert.match(source, new RegExp(`^DRAIN_KEY = "${GCP_DRAIN_ATTRIBUTE}"$`, "m"));
  assert.match(source, new RegExp(`^MARKED_AT_KEY = "${GCP_DRAIN_AT_ATTRIBUTE}"$`, "m"));
  assert.match(source, new RegExp(`^DRAIN_FOR_KEY = "${GCP_DRAIN_FOR_ATTRIBUTE}"$`, "m"));
});
