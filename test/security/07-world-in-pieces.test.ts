/**
 * Finding 7: 0.0.0.0/0 cut in pieces passed the mandatory SSH policy, which knew only /0. The
 * policy now judges the addresses a rule's sources hold together.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import YAML from "yaml";
import { worldShare } from "../../policy/contract/rules";
import { avfleet, ROOT } from "../support/cli";

const v4 = (n: number) => [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");

/** 0.0.0.0/0 cut at random: each prefix is kept whole or split in its two halves, to depth 12. */
const worldInPieces = fc.array(fc.boolean(), { minLength: 8191, maxLength: 8191 }).map((splits) => {
  const pieces: string[] = [];
  const cut = (start: number, bits: number, node: number) => {
    if (bits < 12 && splits[node]) {
      const half = 2 ** (31 - bits);
      cut(start, bits + 1, 2 * node + 1);
      cut(start + half, bits + 1, 2 * node + 2);
    } else pieces.push(`${v4(start)}/${bits}`);
  };
  cut(0, 0, 0);
  return pieces;
});

test("property: 0.0.0.0/0 split any way is the world", () => {
  fc.assert(
    fc.property(worldInPieces, (pieces) => {
      assert.deepEqual(worldShare(pieces), {
        sources: pieces,
        share: "100% of the public IPv4 space",
      });
    }),
    { numRuns: 200 },
  );
});

const PRIVATE_BLOCKS: [number, number][] = [
  [0x0a000000, 8], // 10.0.0.0/8
  [0xac100000, 12], // 172.16.0.0/12
  [0xc0a80000, 16], // 192.168.0.0/16
  [0x64400000, 10], // 100.64.0.0/10
  [0x7f000000, 8], // 127.0.0.0/8
  [0xa9fe0000, 16], // 169.254.0.0/16
];

/** Any prefix inside one of the private, shared, loopback or link-local blocks. */
const privatePrefix = fc
  .tuple(fc.constantFrom(...PRIVATE_BLOCKS), fc.nat(), fc.nat(32))
  .map(([[base, bits], offset, extra]) => {
    const prefix = Math.min(32, bits + extra);
    const within = 2 ** (32 - bits);
    const step = 2 ** (32 - prefix);
    return `${v4(base + Math.floor((offset % within) / step) * step)}/${prefix}`;
  });

test("property: no set of private prefixes is the world", () => {
  fc.assert(
    fc.property(fc.array(privatePrefix, { maxLength: 64 }), (prefixes) => {
      assert.equal(
        worldShare([...prefixes, ...PRIVATE_BLOCKS.map(([b, n]) => `${v4(b)}/${n}`)]),
        undefined,
      );
    }),
    { numRuns: 300 },
  );
});

test("the thresholds: a /8 of public IPv4, a /16 of global unicast IPv6, half of either", () => {
  assert.equal(worldShare(["11.0.0.0/9"]), undefined);
  assert.deepEqual(worldShare(["11.0.0.0/9", "11.128.0.0/9"])?.sources, [
    "11.0.0.0/9",
    "11.128.0.0/9",
  ]);
  assert.equal(worldShare(["198.51.100.0/24", "203.0.113.16/28", "10.0.0.0/8"]), undefined);
  assert.equal(worldShare(["2600::/17"]), undefined);
  assert.equal(
    worldShare(["2600::/17", "2600:8000::/17"])?.share,
    "0.01% of the public IPv6 space",
  );
  // Outside 2000::/3 and still half of IPv6.
  assert.equal(worldShare(["8000::/1"])?.share, "half or more of all IPv6 addresses");
  assert.equal(worldShare(["::/1", "8000::/1"])?.share, "100% of the public IPv6 space");
  assert.equal(worldShare(["fc00::/7", "fe80::/10", "2001:db8::/32"]), undefined);
  // Host bits are masked as EC2 canonicalizes them (docs/real-path.md): 0.0.0.1/0 is 0.0.0.0/0.
  assert.equal(worldShare(["0.0.0.1/0"])?.share, "100% of the public IPv4 space");
});

/** An example stack with its admin CIDRs replaced, in a project of its own. */
function projectWith(stack: string, adminCidrs: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-07-"));
  mkdirSync(join(dir, "stacks"));
  const file = `Pulumi.${stack}.yaml`;
  const doc = YAML.parse(readFileSync(join(ROOT, "stacks", file), "utf8"));
  doc.config["avfleet:fleet"].adminCidrs = adminCidrs;
  writeFileSync(join(dir, "stacks", file), YAML.stringify(doc));
  return join(dir, "stacks");
}

for (const [stack, cidrs, rule] of [
  ["gcp-us-west1", ["0.0.0.0/1", "128.0.0.0/1"], "gcp-usw1-fw-ssh"],
  ["aws-us-east-1", ["198.51.100.0/24", "::/1", "8000::/1"], "aws-use1-sg"],
] as const) {
  test(`CLI: avfleet policy exits 1 on ${stack} with SSH open to ${cidrs.join(", ")}`, () => {
    const stacks = projectWith(stack, [...cidrs]);
    try {
      const result = avfleet(["policy", "--stacks-dir", stacks, stack]);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      const world = cidrs.filter((c) => c.includes(":") === cidrs[cidrs.length - 1].includes(":"));
      const family = world[0].includes(":") ? 6 : 4;
      assert.ok(
        result.stdout.includes(
          `[mandatory] admin-ports-not-from-internet: ${rule}: opens TCP 22 to ${world.join(", ")} (100% of the public IPv${family} space)\n`,
        ),
        result.stdout,
      );
    } finally {
      rmSync(join(stacks, ".."), { recursive: true, force: true });
    }
  });
}
