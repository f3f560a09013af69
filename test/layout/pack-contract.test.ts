/**
 * The program ↔ pack contract has one owner and one direction (docs/design.md, "The policy
 * pack and its contract"). `pulumi policy publish` packs the pack's folder alone (npm pack of
 * policy/, docs/real-path.md "Issue #27: the pack's contract"), so nothing under policy/ may
 * import outside it; and the repository reads the pack only through policy/contract/, so a
 * policy's code can change without the program, the runner or a script noticing.
 *
 * test/policy/ holds the pack's own unit tests (the published folder carries none), which test
 * its private parts as any domain's tests test theirs; every other file outside the pack
 * goes through the contract.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "../support/cli";

const PACK = "policy/";
const CONTRACT = "policy/contract/";
/** The one contract file that hands the runner the pack's policies (and so reads them). */
const POLICY_LIST = "policy/contract/policies.ts";
const PACK_TESTS = "test/policy/";

/** Relative specifiers of static, dynamic and require() imports (npm packages aside). */
export function relativeImports(source: string): string[] {
  return [...source.matchAll(/(?:from|import\(|require\()\s*["'](\.{1,2}\/[^"']*)["']/g)].map(
    (m) => m[1],
  );
}

/** What breaks the contract's rules, one line per import: `<file>: imports <target> — why`. */
export function contractProblems(files: { path: string; source: string }[]): string[] {
  const problems: string[] = [];
  for (const { path, source } of files) {
    for (const spec of relativeImports(source)) {
      const target = relative(ROOT, resolve(ROOT, dirname(path), spec));
      const into = (folder: string) => `${target}/`.startsWith(folder);
      const say = (why: string) => problems.push(`${path}: imports ${target} — ${why}`);
      if (path.startsWith(PACK)) {
        if (!into(PACK)) say("the pack is published alone; it can import nothing outside policy/");
        else if (path.startsWith(CONTRACT) && path !== POLICY_LIST && !into(CONTRACT))
          say("the contract stands on its own: the program loads it, never a policy's code");
      } else if (into(PACK) && !into(CONTRACT) && !path.startsWith(PACK_TESTS)) {
        say("outside the pack, read only policy/contract/");
      }
    }
  }
  return problems;
}

/** Tracked code, so a scratch file or node_modules never decides the result. */
function trackedCode(): { path: string; source: string }[] {
  return execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" })
    .split("\0")
    .filter((f) => /\.(ts|mts|cts|js|mjs|cjs)$/.test(f) && existsSync(join(ROOT, f)))
    .map((path) => ({ path, source: readFileSync(join(ROOT, path), "utf8") }));
}

test("the pack imports nothing outside policy/, and the repository reads only its contract", () => {
  const files = trackedCode();
  assert.ok(
    files.some((f) => f.path === "index.ts" && /policy\/contract|program\//.test(f.source)),
    "the walk sees the program",
  );
  assert.deepEqual(contractProblems(files), []);
});

test("the program, the runner and the scripts do read the pack's contract", () => {
  const readers = new Set(
    trackedCode()
      .filter((f) =>
        relativeImports(f.source).some((s) =>
          `${relative(ROOT, resolve(ROOT, dirname(f.path), s))}/`.startsWith(CONTRACT),
        ),
      )
      .map((f) => f.path.split("/").slice(0, 2).join("/")),
  );
  for (const reader of ["modules/program", "modules/policy-runner", "modules/fleets"])
    assert.ok(readers.has(reader), `${reader} reads policy/contract/`);
});

test("each rule names the file, the import and why", () => {
  const file = (path: string, spec: string) => ({ path, source: `import { x } from "${spec}";` });
  assert.deepEqual(
    contractProblems([
      file("policy/hosts.ts", "../modules/fleets/gcp-args"),
      file("policy/contract/rules.ts", "../hosts"),
      file("policy/contract/policies.ts", "../policies"),
      file("policy/stack.ts", "./contract/rules"),
      file("modules/fleets/gcp-args.ts", "../../policy/rules"),
      file("modules/fleets/gcp.ts", "../../policy/contract/rules"),
      file("scripts/x.ts", "../policy"),
      file("test/policy/hosts.test.ts", "../../policy/hosts"),
      { path: "index.ts", source: 'const p = require("./policy/policies");' },
    ]),
    [
      "policy/hosts.ts: imports modules/fleets/gcp-args — the pack is published alone; it can import nothing outside policy/",
      "policy/contract/rules.ts: imports policy/hosts — the contract stands on its own: the program loads it, never a policy's code",
      "modules/fleets/gcp-args.ts: imports policy/rules — outside the pack, read only policy/contract/",
      "scripts/x.ts: imports policy — outside the pack, read only policy/contract/",
      "index.ts: imports policy/policies — outside the pack, read only policy/contract/",
    ],
  );
});
