/**
 * Publishing what a migration changed where the team deploys from. `pulumi config set-all`
 * writes the stack file of the checkout the executor runs in, and nothing else: a teammate or
 * CI deploying from git would not see it. So, with `--publish BRANCH`, every stack file a step
 * changed is committed to BRANCH, pushed to `origin` and offered as one pull request, opened on
 * the first push and updated by the next ones. The operator's checked-out branch, index and
 * working tree are never touched: the commit is built in a throwaway index (`git read-tree`,
 * `update-index --cacheinfo`, `write-tree`, `commit-tree`, `update-ref`).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

/** Commits `files` (absolute paths) with `message`; says what became of them, never throws. */
export type Publish = (files: string[], message: string) => Promise<string>;

interface Ran {
  ok: boolean;
  out: string;
  err: string;
}

function ran(bin: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Ran {
  const r = spawnSync(bin, args, { cwd, env, encoding: "utf8" });
  const err = (r.error?.message ?? r.stderr ?? "").trim();
  return { ok: r.status === 0, out: (r.stdout ?? "").trim(), err };
}

/** A publisher of the repository `root` is in, to `branch`. */
export function gitPublisher(root: string, branch: string, env = process.env): Publish {
  const ref = `refs/heads/${branch}`;
  return async (files, message) => {
    const dir = mkdtempSync(join(tmpdir(), "avfleet-publish-"));
    const indexEnv = { ...env, GIT_INDEX_FILE: join(dir, "index") };
    const git = (args: string[], withIndex = false) => {
      const r = ran("git", args, root, withIndex ? indexEnv : env);
      if (!r.ok) throw new Error(`git ${args[0]}: ${r.err}`);
      return r.out;
    };
    try {
      const top = git(["rev-parse", "--show-toplevel"]);
      const existing = ran("git", ["rev-parse", "--verify", "-q", ref], root, env);
      const base = existing.ok ? existing.out : git(["rev-parse", "HEAD"]);
      git(["read-tree", base], true);
      for (const file of files) {
        const blob = git(["hash-object", "-w", "--", file]);
        const path = relative(top, file);
        git(["update-index", "--add", "--cacheinfo", `100644,${blob},${path}`], true);
      }
      const tree = git(["write-tree"], true);
      const names = files.map((f) => relative(top, f)).join(", ");
      if (tree === git(["rev-parse", `${base}^{tree}`])) return `${branch} already has ${names}`;
      const commit = git(["commit-tree", tree, "-p", base, "-m", message]);
      // The old value makes a branch moved meanwhile (another executor, a person) a failure.
      git(["update-ref", ref, commit, existing.ok ? base : ""]);
      return `${names} committed to ${branch} (${commit.slice(0, 12)}); ${pushed(root, branch, message, env)}`;
    } catch (err) {
      return `not published: ${(err as Error).message}`;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** Pushes `branch` to origin and opens its pull request once (`gh`); what happened, in words. */
function pushed(root: string, branch: string, title: string, env: NodeJS.ProcessEnv): string {
  if (!ran("git", ["remote", "get-url", "origin"], root, env).ok) return "no remote origin";
  const push = ran(
    "git",
    ["push", "origin", `refs/heads/${branch}:refs/heads/${branch}`],
    root,
    env,
  );
  if (!push.ok) return `push to origin failed: ${push.err.split("\n").at(-1)}`;
  // `gh pr view <branch>` exits 1 when the branch has no pull request, and may answer with a
  // merged or closed one (open ones first: cli/cli api/queries_pr.go, sortPullRequestsByState),
  // which a push does not reopen: only an open one counts as updated.
  const open = ran(
    "gh",
    ["pr", "view", branch, "--json", "url,state", "--jq", 'select(.state == "OPEN") | .url'],
    root,
    env,
  );
  if (open.ok && open.out !== "") return `pushed; pull request ${open.out} updated`;
  const body =
    "Stack files changed by `avfleet migrate`, one commit per step. Merge them so that deploys from git carry the weights the migration applied (the pack refuses older ones: traffic-migration-order).";
  const create = ran(
    "gh",
    ["pr", "create", "--head", branch, "--title", title, "--body", body],
    root,
    env,
  );
  return create.ok
    ? `pushed; pull request ${create.out.split("\n").at(-1)} opened`
    : `pushed; open a pull request from ${branch} (gh pr create: ${create.err.split("\n").at(-1)})`;
}
