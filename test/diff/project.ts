/**
 * A throwaway git repository holding a copy of this project (program, CLI, inventories) and
 * stack files derived from the example stacks, so diff tests run the CLI of the copy against
 * revisions they make, whatever example stacks exist.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import type { CliResult } from "../support/cli";
import { ROOT } from "../support/cli";

const PROJECT_FILES = [
  "index.ts",
  "Pulumi.yaml",
  "package.json",
  "package-lock.json",
  "tsconfig.json",
  "modules",
  "policy",
  "scripts",
  "inventory",
  "bin",
];

type Doc = Record<string, any>;

export interface TempProject {
  dir: string;
  git(...args: string[]): string;
  /**
   * Writes stacks/Pulumi.<name>.yaml: this project's example stack `example`, then `change`
   * applied to its parsed document.
   */
  writeStack(name: string, example: string, change?: (doc: Doc) => void): void;
  /** Rewrites a YAML file of the copy (an inventory) through `change`. */
  editYaml(path: string, change: (doc: Doc) => void): void;
  removeStack(name: string): void;
  commit(message: string): string;
  /** Runs the copy's own CLI inside the copy, as `npx avfleet` does (bin/avfleet). */
  avfleet(...args: string[]): CliResult;
  dispose(): void;
}

export function tempProject(): TempProject {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-diff-test-"));
  for (const path of PROJECT_FILES) {
    if (existsSync(join(ROOT, path)))
      cpSync(join(ROOT, path), join(dir, path), {
        recursive: true,
        // policy/ may hold its own install.
        filter: (src) => !src.split("/").includes("node_modules"),
      });
  }
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  writeFileSync(join(dir, ".gitignore"), "node_modules\n.avfleet/\n");
  mkdirSync(join(dir, "stacks"));
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=test", "-c", "user.email=test@example.com", ...args], {
      cwd: dir,
      encoding: "utf8",
    });
  git("init", "-q", "-b", "main");
  const edit = (from: string, to: string, change?: (doc: Doc) => void) => {
    const doc = YAML.parse(readFileSync(from, "utf8"));
    change?.(doc);
    writeFileSync(to, YAML.stringify(doc));
  };
  return {
    dir,
    git,
    writeStack(name, example, change) {
      edit(
        join(ROOT, "stacks", `Pulumi.${example}.yaml`),
        join(dir, "stacks", `Pulumi.${name}.yaml`),
        change,
      );
    },
    editYaml(path, change) {
      edit(join(dir, path), join(dir, path), change);
    },
    removeStack(name) {
      unlinkSync(join(dir, "stacks", `Pulumi.${name}.yaml`));
    },
    commit(message) {
      git("add", "-A");
      git("commit", "-q", "-m", message);
      return git("rev-parse", "HEAD").trim();
    },
    avfleet(...args) {
      const result = spawnSync(process.execPath, [join(dir, "bin/avfleet"), ...args], {
        cwd: dir,
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024,
      });
      return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The CLI of the copy, without waiting: shards run at the same time, as on a CI matrix. */
export function avfleetAsync(project: TempProject, ...args: string[]): Promise<CliResult> {
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(project.dir, "scripts/avfleet.ts"), ...args],
      { cwd: project.dir },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("exit", (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}
