/**
 * `avfleet upgrade-inputs` on a copy of the example project: each mechanical change turns a
 * file of the previous format into exactly the committed after-fixture (so every byte outside
 * the changed keys, comments and flow maps included, is the original's), and the result loads;
 * what is not mechanical is reported with its Changelog fix and never guessed; --write writes
 * all files or none.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadStackFile } from "../../modules/stacks/stack";
import { loadInventory } from "../../modules/inventory/inventory";
import { loadRunbook } from "../../modules/runbook/runbook";
import { readTraceCsv } from "../../modules/world/trace-file";
import { writeAll } from "../../modules/upgrade/write";
import { avfleet, ROOT } from "../support/cli";

const FIXTURES = join(__dirname, "fixtures");
const fixture = (name: string) => readFileSync(join(FIXTURES, name), "utf8");

/** A copy of the example project's inputs, where a test may put files of the old format. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-upgrade-test-"));
  for (const sub of ["stacks", "inventory", "runbooks"])
    cpSync(join(ROOT, sub), join(dir, sub), { recursive: true });
  return dir;
}

/** A test on its own copy of the project, removed after it. */
function testInProject(name: string, body: (dir: string) => void) {
  test(name, () => {
    const dir = project();
    try {
      body(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/**
 * The CLI on files of a project: run from the repository (where tsx resolves), the project
 * named by its stacks directory.
 */
function upgrade(dir: string, files: string[], ...flags: string[]) {
  const args = ["upgrade-inputs", ...files.map((f) => join(dir, f)), ...flags];
  return avfleet([...args, "--stacks-dir", join(dir, "stacks")]);
}

const METAL = "stacks/Pulumi.metal-sjc.yaml";
const RUNBOOK = "runbooks/us-west.yaml";
const INVENTORY = "inventory/metal-sjc.yaml";

const cases = [
  {
    change: "a metal fleet's minHosts/maxHosts",
    file: METAL,
    before: "metal-host-counts.before.yaml",
    after: "metal-sjc.after.yaml",
  },
  {
    change: "an absolute inventory path inside the project",
    file: METAL,
    before: "inventory-path.before.yaml",
    after: "metal-sjc.after.yaml",
  },
  {
    change: "YAML merge keys, block and flow",
    file: RUNBOOK,
    before: "merge-keys.before.yaml",
    after: "merge-keys.after.yaml",
  },
];

for (const c of cases) {
  testInProject(
    `upgrade-inputs rewrites ${c.change} to the after-fixture byte for byte, and it loads`,
    (dir) => {
      const before = fixture(c.before).replaceAll("ROOT_DIR", dir);
      writeFileSync(join(dir, c.file), before);
      const dry = upgrade(dir, [c.file]);
      assert.equal(dry.code, 0, dry.stderr + dry.stdout);
      assert.match(dry.stdout, /dry run, nothing written \(--write writes 1 file\(s\)\)/);
      assert.equal(readFileSync(join(dir, c.file), "utf8"), before, "a dry run writes nothing");

      const run = upgrade(dir, [c.file], "--write");
      assert.equal(run.code, 0, run.stderr + run.stdout);
      assert.match(run.stdout, /wrote 1 file\(s\)/);
      assert.equal(readFileSync(join(dir, c.file), "utf8"), fixture(c.after));
      if (c.file === RUNBOOK) loadRunbook(join(dir, c.file), join(dir, "stacks"));
      else loadStackFile(join(dir, c.file));
      assert.deepEqual(
        readdirSync(join(dir, c.file, "..")).filter((f) => f.includes("avfleet-upgrade")),
        [],
        "no temporary file left",
      );
    },
  );
}

testInProject("upgrade-inputs says each change as key path: old → new", (dir) => {
  writeFileSync(join(dir, METAL), fixture("metal-host-counts.before.yaml"));
  writeFileSync(join(dir, RUNBOOK), fixture("merge-keys.before.yaml"));
  const run = upgrade(dir, [METAL, RUNBOOK]);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.split("\n");
  for (const line of [
    "  changed config.avfleet:fleet.minHosts: 40 → (removed)",
    "  changed config.avfleet:fleet.maxHosts: 48 → (removed)",
    "  changed steps[2].<<: <<: &pace { bake: 10m, interval: 5m } → written out: bake, interval",
    "  changed steps[3].<<: <<: *pace → written out: bake, interval",
    "  changed steps[2].gates[4].<<: <<: *loss → written out: slo",
  ]) {
    assert.ok(lines.includes(line), `${line} in\n${run.stdout}`);
  }
  assert.match(run.stdout, /2 file\(s\): 6 mechanical change\(s\), 0 left for a human; dry run/);
  const json = JSON.parse(upgrade(dir, [METAL], "--json").stdout);
  assert.deepEqual(json.files[0].changes[0], {
    path: "config.avfleet:fleet.minHosts",
    from: "40",
    to: "(removed)",
    entry: "`minHosts`/`maxHosts` on a metal fleet",
  });
  assert.equal(json.files[0].loads, true);
  assert.equal(json.written, false);
});

testInProject("upgrade-inputs converts a UTF-16 file to the same text in UTF-8", (dir) => {
  const text = readFileSync(join(dir, INVENTORY), "utf8");
  writeFileSync(
    join(dir, INVENTORY),
    Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]),
  );
  const run = upgrade(dir, [INVENTORY], "--write");
  assert.equal(run.code, 0, run.stderr + run.stdout);
  assert.match(
    run.stdout,
    /changed \(document\): UTF-16 \(little-endian, with a byte order mark\) → UTF-8/,
  );
  assert.equal(readFileSync(join(dir, INVENTORY), "utf8"), text);
  loadInventory(join(dir, INVENTORY));
});

testInProject(
  "upgrade-inputs reports what is not mechanical with its Changelog fix, guesses nothing, and --write then writes nothing",
  (dir) => {
    // Old format: host counts (mechanical) beside no workload (not mechanical) in the stack,
    // a host without its key in the inventory, and a runbook naming another media region.
    // An inventory outside the project: where it should be is not the command's to decide.
    const stack = fixture("metal-host-counts.before.yaml")
      .replace("inventory: inventory/", "inventory: /elsewhere/inventory/")
      .replace(/\n    workload:\n(?: {6}.*\n|\n)+?(?= {4}\S)/, "\n");
    assert.doesNotMatch(stack, /workload/);
    writeFileSync(join(dir, METAL), stack);
    const inventory = readFileSync(join(dir, INVENTORY), "utf8").replace(
      /(sjc-m005,.*?state: draining), hostKey: "[^"]*"/,
      "$1",
    );
    writeFileSync(join(dir, INVENTORY), inventory);
    const runbook = readFileSync(join(dir, RUNBOOK), "utf8").replace(
      "region: us-west",
      "region: us-east",
    );
    writeFileSync(join(dir, RUNBOOK), runbook);

    const run = upgrade(dir, [METAL, INVENTORY, RUNBOOK], "--write");
    assert.equal(run.code, 1, run.stderr + run.stdout);
    const lines = run.stdout.split("\n");
    const after = (start: string) => lines[lines.findIndex((l) => l.startsWith(start)) + 1];
    assert.ok(lines.includes("  changed config.avfleet:fleet.minHosts: 40 → (removed)"));
    assert.ok(!lines.some((l) => l.startsWith("  changed config.avfleet:fleet.inventory")));
    assert.match(
      after('  needs you config.avfleet:fleet.inventory: is "/elsewhere/'),
      /^ {4}fix \(CHANGELOG.md, `inventory:` must lie inside the project\)/,
    );
    assert.match(
      after("  needs you config.avfleet:fleet.workload: is missing"),
      /^ {4}fix \(CHANGELOG.md, `workload` on every fleet\): add `workload: /,
    );
    assert.match(
      after("  needs you hosts[4].hostKey: is missing on host sjc-m005"),
      /^ {4}fix \(CHANGELOG.md, `hostKey` on every host that is not retired\)/,
    );
    assert.match(
      after("  needs you region: "),
      /^ {4}fix \(CHANGELOG.md, `region` must be the media region of its traffic stack\)/,
    );
    assert.match(run.stdout, /nothing written: 3 file\(s\) would still fail to load/);
    assert.equal(
      readFileSync(join(dir, METAL), "utf8"),
      stack,
      "the mechanical part is not written alone",
    );
    assert.equal(readFileSync(join(dir, INVENTORY), "utf8"), inventory);
    assert.equal(readFileSync(join(dir, RUNBOOK), "utf8"), runbook, "no region is guessed");
  },
);

testInProject(
  "upgrade-inputs names the policies a change made mandatory beside what the loader refuses",
  (dir) => {
    // An example stack made a real one: its placeholders are now refused, or policy findings.
    const file = "stacks/Pulumi.gcp-us-west1.yaml";
    const text = readFileSync(join(dir, file), "utf8");
    assert.match(text, /^ {2}avfleet:example: true\n/m);
    writeFileSync(
      join(dir, file),
      text.replace(/^ {2}avfleet:example: true\n/m, "").replace(/^ {4}endpointZone: .*\n/m, ""),
    );
    const run = upgrade(dir, [file], "--json");
    assert.equal(run.code, 1, run.stderr);
    const [result] = JSON.parse(run.stdout).files;
    const at = (path: string) => result.remaining.filter((p: { path: string }) => p.path === path);
    assert.deepEqual(
      at("config.avfleet:fleet.endpointZone").map((p: { entry: string; refused: boolean }) => [
        p.entry,
        p.refused,
      ]),
      [["`endpointZone` on a cloud fleet with an `endpoint`", false]],
    );
    assert.deepEqual(
      at("config.avfleet:notifyPageSecret.secure").map((p: { entry: string; refused: boolean }) => [
        p.entry,
        p.refused,
      ]),
      [['a secret whose "ciphertext" is base64 of printable text', true]],
    );
    assert.ok(
      result.remaining.some(
        (p: { entry?: string; refused: boolean }) =>
          p.entry === "No placeholder values in a stack that is applied" && !p.refused,
      ),
    );
    assert.equal(result.loads, false);
  },
);

testInProject("upgrade-inputs exits 2 and writes nothing when one file is not YAML", (dir) => {
  const before = fixture("metal-host-counts.before.yaml");
  writeFileSync(join(dir, METAL), before);
  writeFileSync(join(dir, RUNBOOK), "region: us-west\nsteps: [\n");
  const run = upgrade(dir, [METAL, RUNBOOK], "--write");
  assert.equal(run.code, 2);
  assert.match(run.stderr, /runbooks\/us-west\.yaml: \d+:\d+: malformed YAML/);
  assert.equal(run.stdout, "");
  assert.equal(readFileSync(join(dir, METAL), "utf8"), before);
  const missing = upgrade(dir, ["stacks/Pulumi.nope.yaml"]);
  assert.equal(missing.code, 2);
  assert.match(
    missing.stderr,
    /stacks\/Pulumi\.nope\.yaml: \(document\): cannot be read \(ENOENT\)/,
  );
});

test("writeAll writes every file or none", () => {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-write-all-"));
  try {
    writeFileSync(join(dir, "a.yaml"), "a: 1\n");
    // A directory cannot be replaced by a file: the second target fails after the first's
    // new text is ready.
    mkdirSync(join(dir, "b.yaml"));
    assert.throws(() =>
      writeAll([
        { file: join(dir, "a.yaml"), text: "a: 2\n" },
        { file: join(dir, "b.yaml"), text: "b: 2\n" },
      ]),
    );
    assert.equal(readFileSync(join(dir, "a.yaml"), "utf8"), "a: 1\n");
    assert.deepEqual(
      readdirSync(dir).sort(),
      ["a.yaml", "b.yaml"],
      "no temporary or backup file left",
    );
    assert.throws(
      () => writeAll([{ file: join(dir, "a.yaml"), text: "a: 3\n", read: Buffer.from("a: 0\n") }]),
      /changed since it was read/,
    );
    assert.equal(readFileSync(join(dir, "a.yaml"), "utf8"), "a: 1\n");
    writeAll([{ file: join(dir, "a.yaml"), text: "a: 2\n" }]);
    assert.equal(readFileSync(join(dir, "a.yaml"), "utf8"), "a: 2\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A day of minutes as the current reader takes it, CR LF line ends as a spreadsheet writes. */
function demandCsv(count: (minute: number) => string, time = (m: number) => `${minuteAt(m)}Z`) {
  const rows = Array.from({ length: 1440 }, (_, m) => `${time(m)},${count(m)}`);
  return ["time,sessions", ...rows, ""].join("\r\n");
}
const minuteAt = (m: number) => new Date(Date.UTC(2026, 10, 2, 0, m)).toISOString().slice(0, 16);

testInProject(
  "upgrade-inputs writes a demand CSV's hexadecimal and exponent counts in decimal and drops a third column",
  (dir) => {
    const after = demandCsv((m) => String(1000 + m));
    const before = after
      .replace(`${minuteAt(1)}Z,1001`, `${minuteAt(1)}Z,0x3E9`)
      .replace(`${minuteAt(2)}Z,1002`, `${minuteAt(2)}Z,1.002e3`)
      .replace(`${minuteAt(3)}Z,1003`, `${minuteAt(3)}Z,1003,us-west`);
    writeFileSync(join(dir, "demand.csv"), before);
    const run = upgrade(dir, ["demand.csv"], "--write");
    assert.equal(run.code, 0, run.stderr + run.stdout);
    for (const line of [
      "  changed line 3, column sessions: 0x3E9 → 1001",
      "  changed line 4, column sessions: 1.002e3 → 1002",
      "  changed line 5, column 3: us-west → (removed)",
    ]) {
      assert.ok(run.stdout.split("\n").includes(line), `${line} in\n${run.stdout}`);
    }
    assert.equal(readFileSync(join(dir, "demand.csv"), "utf8"), after);
    assert.equal(readTraceCsv(join(dir, "demand.csv"), "us-west", 0).sessions[1], 1001);
  },
);

testInProject(
  "upgrade-inputs reports a demand CSV's time without a zone, and guesses none",
  (dir) => {
    const before = demandCsv(
      (m) => String(1000 + m),
      (m) => (m === 7 ? minuteAt(m) : `${minuteAt(m)}Z`),
    );
    writeFileSync(join(dir, "demand.csv"), before);
    const run = upgrade(dir, ["demand.csv"], "--write");
    assert.equal(run.code, 1, run.stderr + run.stdout);
    assert.match(
      run.stdout,
      /needs you line 9, column time: "2026-11-02T00:07" is not an ISO 8601 time with a zone/,
    );
    assert.match(
      run.stdout,
      /fix \(CHANGELOG.md, `scale replay --demand` CSVs that were read before are refused\)/,
    );
    assert.equal(readFileSync(join(dir, "demand.csv"), "utf8"), before);
  },
);
