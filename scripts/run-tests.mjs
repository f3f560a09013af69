#!/usr/bin/env node
// One test command for README, `npm test` and CI: node:test over every test/**/*.test.ts,
// both cores. Arguments narrow the run to files or folders (`npm test -- test/stacks`).
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function collect(path) {
  if (statSync(path).isFile()) return path.endsWith(".test.ts") ? [path] : [];
  return readdirSync(path)
    .sort()
    .flatMap((entry) => collect(join(path, entry)));
}

const roots = process.argv.slice(2);
const files = (roots.length ? roots : ["test"]).flatMap(collect);
if (files.length === 0) {
  console.error(`run-tests: no *.test.ts under ${roots.join(" ") || "test"}`);
  process.exit(2);
}
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
