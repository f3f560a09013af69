/**
 * What the rendered host agent answers, from its own code: agent-answers.py imports the agent
 * package the bootstrap installs and asks it, once per distinct agent and configuration.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { AGENT_CONFIG_FILE, AGENT_LIB_DIR, type RenderedPool } from "./rendered";

export type HostState = "serving" | "draining" | "workload-down" | "untuned";

export interface AgentAnswers {
  /** path → host state → HTTP status the agent serves. */
  health: Record<string, Record<HostState, number>>;
  lifecycle: {
    /** AWS: the drain hook's completion counted done on "No active Lifecycle Action". */
    drainCompleteDoneOnNoActive?: boolean;
    launchDoneOnNoActive?: boolean;
    /** GCP: the calls its drain completion makes ([method, url]). */
    completeCalls?: [string, string][];
  };
}

const cache = new Map<string, AgentAnswers>();
/**
 * Answers kept by the hash of the agent, its configuration and the probe: a preview asks the same
 * agent every time, and starting Python costs more than the scenarios themselves.
 */
const DISK_CACHE = join(tmpdir(), "avfleet-agent-answers");
const PROBE = readFileSync(join(__dirname, "agent-answers.py"));

export function agentAnswers(pool: RenderedPool): AgentAnswers {
  const modules = [...pool.files].filter(([path]) => path.startsWith(`${AGENT_LIB_DIR}/`)).sort();
  const config = pool.files.get(AGENT_CONFIG_FILE) ?? "";
  const hash = createHash("sha256").update(PROBE);
  for (const [path, content] of modules)
    hash.update("\0").update(path).update("\0").update(content);
  const key = hash.update("\0").update(config).digest("hex");
  const known = cache.get(key) ?? readCached(key);
  if (known) {
    cache.set(key, known);
    return known;
  }
  const dir = mkdtempSync(join(tmpdir(), "avfleet-agent-answers-"));
  try {
    for (const [path, content] of modules) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    writeFileSync(join(dir, "agent.json"), config);
    const run = spawnSync(
      "python3",
      [join(__dirname, "agent-answers.py"), join(dir, AGENT_LIB_DIR), join(dir, "agent.json")],
      { encoding: "utf8" },
    );
    if (run.status !== 0) throw new Error(`${pool.pool}: the rendered agent: ${run.stderr}`);
    const answers = JSON.parse(run.stdout) as AgentAnswers;
    cache.set(key, answers);
    mkdirSync(DISK_CACHE, { recursive: true });
    // Written aside, then renamed: a reader never sees half an entry.
    const file = join(DISK_CACHE, `${key}.json`);
    writeFileSync(`${file}.${process.pid}`, run.stdout);
    renameSync(`${file}.${process.pid}`, file);
    return answers;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readCached(key: string): AgentAnswers | undefined {
  try {
    return JSON.parse(readFileSync(join(DISK_CACHE, `${key}.json`), "utf8")) as AgentAnswers;
  } catch {
    return undefined;
  }
}

/** What the agent answers on `path` in `state`; 404 for a path it does not serve. */
export function answer(answers: AgentAnswers, path: string, state: HostState): number {
  return answers.health[path]?.[state] ?? 404;
}
