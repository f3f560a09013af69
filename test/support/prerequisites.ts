/**
 * Tests that need root, a network namespace or a Debian tool: in CI (CI=true) a missing
 * prerequisite is a failure, never a silent skip; on a developer machine the test skips
 * and says what is missing.
 */
import { spawnSync } from "node:child_process";
import type { TestContext } from "node:test";

export function hasCommand(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/**
 * Returns true when the test may go on. When `missing` names something, fails the test in
 * CI and skips it elsewhere.
 */
export function prerequisite(t: TestContext, missing: string | undefined): boolean {
  if (!missing) return true;
  if (process.env.CI === "true") {
    throw new Error(`prerequisite missing in CI: ${missing} (.ci/run must install it)`);
  }
  t.skip(`prerequisite missing: ${missing}`);
  return false;
}

/** The first of `commands` that is not on PATH, as a reason, or undefined. */
export function missingCommands(...commands: string[]): string | undefined {
  const absent = commands.filter((c) => !hasCommand(c));
  return absent.length ? `command(s) not on PATH: ${absent.join(", ")}` : undefined;
}
