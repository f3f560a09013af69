/** Runs the avfleet CLI as a user would, capturing its output and exit code. */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

export const ROOT = resolve(__dirname, "..", "..");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function avfleet(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", resolve(ROOT, "scripts/avfleet.ts"), ...args],
    {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
