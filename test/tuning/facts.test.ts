import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { InputError } from "../../modules/inputs/problems";
import {
  hostFactsProblems,
  PROFILE_NAMES,
  renderTuning,
  shellQuote,
  type HostFacts,
} from "../../modules/tuning";
import { formatProblem } from "../../modules/inputs/problems";
import { exampleFacts } from "./support";

const lines = (document: unknown) =>
  hostFactsProblems(document).map((p) => formatProblem("f.yaml", p));

test("the example facts are valid", () => {
  assert.deepEqual(lines(exampleFacts("gcp-n2d-16")), []);
  assert.deepEqual(lines(exampleFacts("metal-64")), []);
});

test("facts problems say where, what and what was expected", () => {
  const facts = exampleFacts("gcp-n2d-16");
  assert.deepEqual(lines({ ...facts, mediaUdpPorts: { from: 20000, to: 10000 } }), [
    "f.yaml: mediaUdpPorts.to: is 10000, below from (20000), expected a port ≥ from",
  ]);
  assert.deepEqual(lines({ ...facts, mediaUdpPorts: { from: 10000, to: 65000 } }), [
    "f.yaml: mediaUdpPorts: leaves 535 ports for outgoing connections, expected a range that leaves at least 1024 ports above 32767 free",
  ]);
  assert.deepEqual(lines({ ...facts, mediaWorkerCpus: "0-15" }), [
    "f.yaml: mediaWorkerCpus: takes every CPU, expected at least one CPU left for interrupts and the kernel's network work",
  ]);
  assert.deepEqual(lines({ ...facts, mediaWorkerCpus: "2-16" }), [
    "f.yaml: mediaWorkerCpus: names CPU 16 on a host with 16 cores, expected CPUs in 0-15",
  ]);
  assert.deepEqual(lines({ ...facts, mediaWorkerCpus: "15-2" }), [
    'f.yaml: mediaWorkerCpus: has a descending range in "15-2", expected ranges written low-high, like 2-15',
  ]);
  assert.deepEqual(lines({ ...facts, packetsPerSecond: 50_000_000 }), [
    "f.yaml: packetsPerSecond: with stallMs 20 needs 2534408192 bytes of socket buffer, expected packetsPerSecond × stallMs to need at most 1073741824 bytes (1 GiB)",
  ]);
  assert.deepEqual(lines({ ...facts, stallMs: 0, rxQueues: 1.5, ring: 4096 }), [
    "f.yaml: ring: is not a known key, expected one of cores, nicDriver, rxQueues, txQueues, packetsPerSecond, stallMs, mediaUdpPorts, mediaWorkerCpus, mediaUnit, unprivilegedPortStart, interfaces",
    "f.yaml: rxQueues: is number 1.5, expected the RX queues one NIC has, an integer",
    "f.yaml: stallMs: is 0, expected the worst receiver stall to absorb, in ms, > 0",
  ]);
});

// Shell metacharacters, each inside otherwise plausible values.
const hostile = fc
  .tuple(
    fc.constantFrom("sfu", "eth0", "gve", "2-15", "", "a"),
    fc.constantFrom(
      "'",
      '"',
      "$(id)",
      "`id`",
      "\n",
      ";",
      "*",
      "?",
      "[a]",
      "${IFS}",
      "\\",
      " ",
      "&",
      "|",
      ">",
      "\t",
      "#",
    ),
    fc.constantFrom("", ".service", "x", "0"),
  )
  .map((parts) => parts.join(""));

const stringFields: ((facts: HostFacts, bad: string) => unknown)[] = [
  (f, bad) => ({ ...f, nicDriver: bad }),
  (f, bad) => ({ ...f, mediaWorkerCpus: bad }),
  (f, bad) => ({ ...f, mediaUnit: bad }),
  (f, bad) => ({ ...f, interfaces: [bad] }),
  (f, bad) => ({ ...f, mediaUnit: `${bad}.service` }),
];

test("property: hostile strings in any string fact are rejected by the schema and by renderTuning", () => {
  const facts = exampleFacts("metal-64");
  fc.assert(
    fc.property(
      hostile,
      fc.nat(stringFields.length - 1),
      fc.constantFrom(...PROFILE_NAMES),
      (bad, field, profile) => {
        const document = stringFields[field](facts, bad);
        assert.notDeepEqual(hostFactsProblems(structuredClone(document)), []);
        assert.throws(() => renderTuning(profile, document as HostFacts), InputError);
      },
    ),
    { numRuns: 300 },
  );
});

test("property: anything shellQuote quotes reaches sh as the same single word", () => {
  const values = fc
    .sample(fc.oneof(hostile, fc.string({ unit: "binary", maxLength: 40 })), 200)
    .map((v) => v.replace(/\0/g, "")); // a NUL cannot be in a shell word at all
  const script = `printf '%s\\0' ${values.map(shellQuote).join(" ")}`;
  const out = spawnSync("sh", ["-c", script], { encoding: "utf8" });
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(out.stdout.split("\0").slice(0, -1), values);
});

const validFacts: fc.Arbitrary<HostFacts> = fc
  .record({
    cores: fc.integer({ min: 2, max: 256 }),
    workerShare: fc.double({ min: 0, max: 0.95, noNaN: true }),
    nicDriver: fc.constantFrom("gve", "ena", "mlx5_core", "ice", "bnxt_en", "virtio_net"),
    rxQueues: fc.integer({ min: 1, max: 128 }),
    txQueues: fc.integer({ min: 1, max: 128 }),
    packetsPerSecond: fc.integer({ min: 1, max: 2_000_000 }),
    stallMs: fc.integer({ min: 1, max: 200 }),
    from: fc.integer({ min: 1024, max: 65535 }),
    span: fc.integer({ min: 0, max: 20000 }),
    interfaces: fc.option(
      fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/), { minLength: 1, maxLength: 3 }),
      { nil: undefined },
    ),
  })
  .map((r) => {
    const firstWorker = Math.min(
      r.cores - 1,
      Math.max(1, Math.floor(r.cores * (1 - r.workerShare))),
    );
    return {
      cores: r.cores,
      nicDriver: r.nicDriver,
      rxQueues: r.rxQueues,
      txQueues: r.txQueues,
      packetsPerSecond: r.packetsPerSecond,
      stallMs: r.stallMs,
      mediaUdpPorts: { from: r.from, to: Math.min(65535, r.from + r.span) },
      mediaWorkerCpus:
        firstWorker === r.cores - 1 ? `${firstWorker}` : `${firstWorker}-${r.cores - 1}`,
      mediaUnit: "sfu.service",
      ...(r.interfaces ? { interfaces: r.interfaces } : {}),
    };
  });

test("property: every valid host renders a script sh parses, every value with a reason", () => {
  const samples = fc.sample(fc.tuple(validFacts, fc.constantFrom(...PROFILE_NAMES)), 25);
  for (const [facts, profile] of samples) {
    const a = renderTuning(profile, facts);
    assert.ok(a.settings.every((s) => s.reason.trim() !== "" && s.value !== ""));
    const parsed = spawnSync("sh", ["-n"], { input: a.script, encoding: "utf8" });
    assert.equal(parsed.status, 0, `${JSON.stringify(facts)}: ${parsed.stderr}`);
  }
});
