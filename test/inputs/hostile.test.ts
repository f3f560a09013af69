/**
 * Issue #16: hostile and mistaken input files of our own making, one per class of failure,
 * through the CLI as a user runs it: exit 2, the file and the key path (or line:col) named, no
 * stack trace, nothing written under .avfleet/.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { notUtf8 } from "../../modules/inputs/yaml-read";
import { ROOT, type CliResult } from "../support/cli";

type Doc = Record<string, any>;

const read = (path: string): Doc => YAML.parse(readFileSync(join(ROOT, path), "utf8"));

/** A project directory of its own, so that whatever the CLI writes would land inside it. */
function project(): {
  dir: string;
  write(path: string, content: string | Doc): string;
  run(...args: string[]): CliResult;
} {
  const dir = mkdtempSync(join(tmpdir(), "inputs-hostile-"));
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  for (const sub of ["stacks", "inventory", "runbooks", "facts"]) mkdirSync(join(dir, sub));
  return {
    dir,
    write(path, content) {
      const file = join(dir, path);
      writeFileSync(file, typeof content === "string" ? content : YAML.stringify(content));
      return file;
    },
    run(...args) {
      const r = spawnSync(
        process.execPath,
        ["--import", "tsx", join(ROOT, "scripts/avfleet.ts"), ...args],
        {
          cwd: dir,
          encoding: "utf8",
        },
      );
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
  };
}

function assertRefused(p: ReturnType<typeof project>, result: CliResult, lines: string[]): void {
  assert.equal(result.code, 2, result.stderr);
  assert.doesNotMatch(result.stderr, /^\s+at /m, "no stack trace");
  assert.equal(existsSync(join(p.dir, ".avfleet")), false, "nothing written under .avfleet/");
  const got = result.stderr.trim().split("\n");
  for (const line of lines)
    assert.ok(got.includes(line), `missing:\n${line}\nin:\n${result.stderr}`);
}

/** Three levels of ten aliases each: a thousand nodes from forty lines. */
const ALIAS_BOMB = [
  "a: &a [x, x, x, x, x, x, x, x, x, x]",
  "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
  "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
  "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
].join("\n");
const BOMB_LINE = (file: string) =>
  `${file}: 2:8: has aliases that expand past 100 nodes (Excessive alias count indicates a resource exhaustion attack), expected a document that writes its values out, or uses few aliases`;

const METAL = read("stacks/Pulumi.metal-sjc.yaml");
const INVENTORY = read("inventory/metal-sjc.yaml");

/** A metal stack `name` over its own inventory, each changed by the callbacks. */
function metal(
  p: ReturnType<typeof project>,
  name: string,
  change: { stack?: (fleet: Doc, config: Doc) => void; inventory?: (inv: Doc) => void },
): { stack: string; inventory: string } {
  const doc = structuredClone(METAL);
  doc.config["avfleet:fleet"].inventory = `inventory/${name}.yaml`;
  change.stack?.(doc.config["avfleet:fleet"], doc.config);
  const inv = structuredClone(INVENTORY);
  change.inventory?.(inv);
  return {
    stack: p.write(`stacks/Pulumi.${name}.yaml`, doc),
    inventory: p.write(`inventory/${name}.yaml`, inv),
  };
}

test("stack files and inventories: every class of hostile or mistaken input at once, exit 2", () => {
  const p = project();
  const bombStack = p.write("stacks/Pulumi.bomb.yaml", ALIAS_BOMB);
  const bombInventory = metal(p, "bomb-inv", {});
  p.write("inventory/bomb-inv.yaml", ALIAS_BOMB);
  const merge = p.write(
    "stacks/Pulumi.merge.yaml",
    "base: &base { kind: gcp }\nconfig:\n  avfleet:fleet:\n    <<: *base\n",
  );
  const cores = metal(p, "cores", {
    inventory: (inv) => (inv.hostClasses["r640-2x25g"].cores = 2),
  });
  const pps = metal(p, "pps", {
    stack: (f) => (f.tuning.stallMs = 1000),
    inventory: (inv) => (inv.hostClasses["r640-2x25g"].streamsPerHost = 200000),
  });
  const addresses = metal(p, "addresses", {
    inventory: (inv) => {
      inv.hosts[0].publicIp = "10.20.9.1";
      inv.hosts[1].publicIp = "127.0.0.1";
      inv.hosts[2].publicIp = "0.0.0.0";
      inv.hosts[3].privateIp = "198.51.100.99";
    },
  });
  const site = metal(p, "site", { stack: (f) => (f.site = "lax") });
  const rack = metal(p, "rack", { inventory: (inv) => (inv.hosts[5].rack = "r1") });
  const retired = metal(p, "retired", {
    inventory: (inv) => inv.hosts.forEach((h: Doc) => (h.state = "retired")),
  });
  const maxHosts = metal(p, "maxhosts", { stack: (f) => (f.maxHosts = 60) });
  const noRacks = metal(p, "noracks", { inventory: (inv) => delete inv.racks });
  // Two passes on main: the semantic problem (a duplicate name) only after the schema one.
  const onePass = metal(p, "onepass", {
    inventory: (inv) => {
      inv.hosts[3].name = inv.hosts[0].name;
      inv.hosts[4].state = "on";
    },
  });
  const numbers = p.write(
    "stacks/Pulumi.numbers.yaml",
    readFileSync(join(ROOT, "stacks/Pulumi.gcp-us-west1.yaml"), "utf8")
      .replace(/stallMs: \d+/, "stallMs: .nan")
      .replace(/maxHosts: \d+/, "maxHosts: 1e400")
      .replace(/minHosts: \d+/, "minHosts: -.inf"),
  );
  const integer = metal(p, "integer", {
    inventory: (inv) => (inv.hostClasses["r640-2x25g"].cores = 31.5),
  });
  const missing = p.write(
    "stacks/Pulumi.missing.yaml",
    YAML.stringify({
      ...METAL,
      config: {
        ...METAL.config,
        "avfleet:fleet": { ...METAL.config["avfleet:fleet"], inventory: "inventory/nowhere.yaml" },
      },
    }),
  );

  const result = p.run("preview", "--stacks-dir", join(p.dir, "stacks"));
  assertRefused(p, result, [
    BOMB_LINE(bombStack),
    BOMB_LINE(bombInventory.inventory),
    `${merge}: 4:5: is a YAML merge key (<<), which avfleet does not support, expected the merged keys written out in full`,
    `${cores.inventory}: hostClasses.r640-2x25g.cores: is 2: the tuning derives mediaWorkerCpus "2-1", which has a descending range in "2-1", expected a core count that leaves media workers beside the CPUs kept for interrupts (max(2, cores/8)): at least 3`,
    `${addresses.inventory}: hosts[0].publicIp: is 10.20.9.1, a private (RFC 1918) address, expected a global unicast IPv4 address (its public DNS record must reach this host)`,
    `${addresses.inventory}: hosts[1].publicIp: is 127.0.0.1, a loopback address, expected a global unicast IPv4 address (its public DNS record must reach this host)`,
    `${addresses.inventory}: hosts[2].publicIp: is 0.0.0.0, an unspecified (this-network) address, expected a global unicast IPv4 address (its public DNS record must reach this host)`,
    `${addresses.inventory}: hosts[3].privateIp: is 198.51.100.99, not a private address, expected an address in 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16`,
    `${site.stack}: config.avfleet:fleet.site: is "lax", but inventory/site.yaml is the inventory of site "sjc", expected the site of the inventory it names`,
    `${rack.inventory}: hosts[5].rack: is "r1", not a declared rack, expected one of r01, r02, r03, r04, or add it under racks: as r1: { power: <feed>, network: <domain> }`,
    `${retired.inventory}: hosts: has all 48 hosts retired, expected at least one active or draining host (a site that is gone is decommissioned: its stack destroyed and its stack file removed)`,
    `${maxHosts.stack}: config.avfleet:fleet.maxHosts: is set on a metal fleet, whose hosts are its inventory's active hosts, expected no maxHosts (add, retire or drain hosts in inventory/maxhosts.yaml instead)`,
    `${noRacks.inventory}: racks: is missing, expected a racks: mapping declaring the 4 racks the hosts use, each with its power and network domain, e.g. racks: { r01: { power: <feed>, network: <domain> }, r02: { power: <feed>, network: <domain> }, r03: { power: <feed>, network: <domain> }, … } (CHANGELOG.md)`,
    `${onePass.inventory}: hosts[3].name: is "sjc-m001", already used by hosts[0], expected a name no other host has`,
    `${onePass.inventory}: hosts[4].state: is "on", expected one of "active" | "draining" | "retired"`,
    `${numbers}: config.avfleet:fleet.maxHosts: is .inf, expected a host count in 1–5000 (an integer)`,
    `${numbers}: config.avfleet:fleet.minHosts: is -.inf, expected a host count in 0–5000 (an integer)`,
    `${numbers}: config.avfleet:fleet.tuning.stallMs: is .nan, expected the worst receiver stall to absorb, in ms`,
    `${integer.inventory}: hostClasses.r640-2x25g.cores: is number 31.5, expected a CPU count (an integer)`,
    `${missing}: config.avfleet:fleet.inventory: is "inventory/nowhere.yaml", which does not exist (looked for ${join(p.dir, "inventory/nowhere.yaml")}), expected the path of this site's host inventory, a file inside the project`,
  ]);
  assert.match(
    result.stderr,
    new RegExp(
      `${pps.inventory}: hostClasses\\.r640-2x25g\\.streamsPerHost: is 200000: the tuning derives packetsPerSecond \\d+, which with stallMs 1000 needs \\d+ bytes of socket buffer`,
    ),
  );
  // Sorted by file, then by key path.
  const files = result.stderr
    .trim()
    .split("\n")
    .map((l) => l.split(": ")[0]);
  assert.deepEqual(files, [...files].sort());
});

test("#27 finding 9: a schema mistake hides nothing else; lists, names and encodings said plainly", () => {
  const p = project();
  // A stack-file key the derived checks do not read is wrong, and a host class is too small:
  // both in one run (the derived check used to wait for a clean stack file).
  const both = metal(p, "both", {
    stack: (f) => (f.adminCidrs = ["300.1.2.0/24"]),
    inventory: (inv) => (inv.hostClasses["r640-2x25g"].cores = 2),
  });
  const empty = metal(p, "empty", { inventory: (inv) => (inv.hosts = []) });
  const shell = metal(p, "shell", {
    inventory: (inv) => (inv.hostClasses["r640;rm -rf"] = inv.hostClasses["r640-2x25g"]),
  });
  const utf16 = p.write(
    "stacks/Pulumi.utf16.yaml",
    "\ufeff" + readFileSync(join(ROOT, "stacks/Pulumi.gcp-us-west1.yaml"), "utf8"),
  );
  writeFileSync(utf16, Buffer.from(readFileSync(utf16, "utf8"), "utf16le"));
  const result = p.run("preview", "--stacks-dir", join(p.dir, "stacks"));
  assertRefused(p, result, [
    `${both.stack}: config.avfleet:fleet.adminCidrs[0]: is "300.1.2.0/24", expected a CIDR like 198.51.100.0/24`,
    `${both.inventory}: hostClasses.r640-2x25g.cores: is 2: the tuning derives mediaWorkerCpus "2-1", which has a descending range in "2-1", expected a core count that leaves media workers beside the CPUs kept for interrupts (max(2, cores/8)): at least 3`,
    `${empty.inventory}: hosts: is empty, expected a list of at least 1 and at most 50000 hosts`,
    `${shell.inventory}: hostClasses.r640;rm -rf: is not an allowed name, expected a host class name: lowercase letters a-z, digits 0-9 and -, starting with a letter or digit, at most 32 characters`,
    `${utf16}: (document): is UTF-16 (little-endian, with a byte order mark), expected a UTF-8 text file`,
  ]);
});

test("an encoding is named from the bytes: UTF-16 without a mark, UTF-32, Latin-1, binary", () => {
  const text = "config:\n  a: é\n";
  assert.equal(notUtf8(Buffer.from(text, "utf8")), undefined);
  assert.equal(notUtf8(Buffer.from("\ufeff" + text, "utf8")), undefined);
  assert.equal(notUtf8(Buffer.from(text, "utf16le")), "UTF-16 (no byte order mark)");
  assert.equal(notUtf8(Buffer.from(text, "utf16le").swap16()), "UTF-16 (no byte order mark)");
  assert.equal(
    notUtf8(Buffer.from("\ufeff" + text, "utf16le").swap16()),
    "UTF-16 (big-endian, with a byte order mark)",
  );
  assert.equal(notUtf8(Buffer.from([0xff, 0xfe, 0, 0, 0x61, 0, 0, 0])), "UTF-32");
  assert.equal(
    notUtf8(Buffer.from(text, "latin1")),
    "not UTF-8 (Latin-1 or another legacy encoding?)",
  );
  const elf = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x3e, 0x00, 0x01, 0x02]);
  assert.equal(notUtf8(elf), "binary");
});

test("a 100,000-host inventory is refused before it is parsed; a larger file by its size", () => {
  const p = project();
  const host = (i: number) =>
    `  - { name: h${i}, publicIp: 198.51.100.1, privateIp: 10.0.0.1, rack: r01, class: r640-2x25g, state: active }\n`;
  const head = YAML.stringify({
    site: "sjc",
    hostClasses: INVENTORY.hostClasses,
    racks: INVENTORY.racks,
  });
  const huge = metal(p, "huge", {});
  p.write(
    "inventory/huge.yaml",
    `${head}hosts:\n${Array.from({ length: 100_000 }, (_, i) => host(i)).join("")}`,
  );
  const big = metal(p, "big", {});
  p.write(
    "inventory/big.yaml",
    `${head}${"#".repeat(100)}\n`.repeat(1) + "#".repeat(17 * 1024 * 1024),
  );
  const result = p.run("preview", "--stacks-dir", join(p.dir, "stacks"), "big", "huge");
  assertRefused(p, result, [
    `${huge.inventory}: (document): has more than 51024 list entries, expected at most 51024 (split the file; see the limits in docs/reference/stacks-and-inputs.md)`,
    `${big.inventory}: (document): is larger than 16777216 bytes, expected a file of at most 16777216 bytes (16384 KiB)`,
  ]);
});

test("runbooks and tuning facts: alias bombs and impossible values, exit 2", () => {
  const p = project();
  for (const name of ["traffic-us-west", "metal-sjc", "gcp-us-west1"]) {
    p.write(
      `stacks/Pulumi.${name}.yaml`,
      readFileSync(join(ROOT, "stacks", `Pulumi.${name}.yaml`), "utf8"),
    );
  }
  const bomb = p.write("runbooks/bomb.yaml", ALIAS_BOMB);
  assertRefused(p, p.run("migrate", "plan", bomb), [BOMB_LINE(bomb)]);
  const runbook = read("runbooks/us-west.yaml");
  runbook.steps[2].bake = "9000h";
  const approve = runbook.steps.findIndex((s: { kind: string }) => s.kind === "approve");
  runbook.steps[approve].expiresAfter = "0s";
  const bad = p.write("runbooks/us-west.yaml", runbook);
  assertRefused(p, p.run("migrate", "plan", bad), [
    `${bad}: steps[2].bake: is "9000h", expected how long each weight bakes before its gates decide: a duration like 30s, 10m or 2h, from 5s to 24h`,
    `${bad}: steps[${approve}].expiresAfter: is "0s", expected how long an approval stays valid: a duration like 30s, 10m or 2h, from 1m to 168h`,
  ]);
  const factsBomb = p.write("facts/bomb.yaml", ALIAS_BOMB);
  assertRefused(p, p.run("tune", "render", "--profile", "media-udp", "--facts", factsBomb), [
    BOMB_LINE(factsBomb),
  ]);
  const facts = read("modules/tuning/examples/metal-64.yaml");
  facts.cores = 1e400;
  facts.stallMs = 0.5;
  const inf = p.write("facts/inf.yaml", YAML.stringify(facts).replace(/cores: .*/, "cores: 1e400"));
  assertRefused(p, p.run("tune", "render", "--profile", "media-udp", "--facts", inf), [
    `${inf}: cores: is .inf, expected the host's CPU count, an integer`,
  ]);
});
