import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { missingCommands, prerequisite } from "../support/prerequisites";

const SOURCES = resolve(__dirname, "../../bench/udp");

test("bench:udp's sender and receiver build warning-free with the machine's cc", (t) => {
  if (!prerequisite(t, missingCommands("cc"))) return;
  const out = mkdtempSync(join(tmpdir(), "avfleet-bench-build-"));
  try {
    for (const name of ["sender", "receiver"]) {
      const built = spawnSync(
        "cc",
        ["-O2", "-Wall", "-Wextra", "-Werror", "-o", join(out, name), join(SOURCES, `${name}.c`)],
        { encoding: "utf8" },
      );
      assert.equal(built.status, 0, built.stderr);
      const usage = spawnSync(join(out, name), [], { encoding: "utf8" });
      assert.equal(usage.status, 2, `${name} without arguments is a usage error`);
      assert.match(usage.stderr, new RegExp(`^usage: ${name} `));
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
