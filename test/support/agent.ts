/**
 * The host agent's Python package for tests: its modules imported from the repository, or the
 * files a pool's hosts get installed under a throwaway root and run as a host runs them.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { agentFiles } from "../../modules/host/agent";
import { AGENT_PATH } from "../../modules/host/units";
import { ROOT } from "./cli";

/**
 * Python lines that make the repository's package importable, then `imports` (e.g.
 * `from avfleet_agent import aws, common`). No bytecode is left in the repository.
 */
export function agentImports(imports: string): string {
  return [
    "import sys",
    "sys.dont_write_bytecode = True",
    `sys.path.insert(0, ${JSON.stringify(join(ROOT, "modules/host-agent"))})`,
    imports,
    "",
  ].join("\n");
}

/** Installs the agent files `spec`'s hosts get under `root`; the launcher's path there. */
export function installAgent(root: string, spec: FleetSpec): string {
  for (const file of agentFiles(spec)) {
    mkdirSync(dirname(join(root, file.path)), { recursive: true });
    writeFileSync(join(root, file.path), file.content, { mode: Number.parseInt(file.mode, 8) });
  }
  return join(root, AGENT_PATH);
}

/** The package's files a host gets with the adapters of `platforms`, in the bootstrap's order. */
export function agentPackagePaths(...platforms: string[]): string[] {
  const modules = ["__init__", "__main__", "agent", "aws", "cloud", "common", "counters", "gcp"];
  modules.push("main", "metal", "platforms", "serve", "sessions", "workload");
  return modules
    .filter((m) => !["aws", "gcp", "metal"].includes(m) || platforms.includes(m))
    .map((m) => `/usr/local/lib/avfleet-agent/avfleet_agent/${m}.py`);
}
