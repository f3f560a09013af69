/**
 * Issue #30 item 3: a migration's stack files reach where the team deploys from. With
 * --publish, each stack file a step changed is committed to a branch (the operator's branch,
 * index and working tree untouched), pushed, and one pull request is opened, then updated.
 * Against a real git and a bare remote; `gh` is a stand-in that records its calls.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { runMigration } from "../../modules/migrate/executor";
import { gitPublisher } from "../../modules/migrate/publish";
import { stackFileName } from "../../modules/stacks/stack";
import { avfleet } from "../support/cli";
import { executorFor, FIXTURE_STACKS, journalOf, newRehearsal, tempDir, US_WEST } from "./support";

const GH = `#!/bin/sh
echo "$*" >> "$GH_LOG"
if [ "$1 $2" = "pr view" ]; then
  [ -f "$GH_PR" ] || { echo "no pull requests found for branch \\"$3\\"" >&2; exit 1; }
  cat "$GH_PR"; exit 0
fi
if [ "$1 $2" = "pr create" ]; then
  echo "https://github.com/acme/fleet/pull/7" > "$GH_PR"; cat "$GH_PR"; exit 0
fi
exit 2
`;

function repo() {
  const dir = tempDir();
  const work = join(dir, "work");
  const remote = join(dir, "remote.git");
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", work, ...args], { encoding: "utf8" }).trim();
  execFileSync("git", ["init", "-q", "--bare", remote]);
  mkdirSync(join(work, "stacks"), { recursive: true });
  execFileSync("git", ["init", "-q", "-b", "main", work]);
  git("config", "user.name", "Operator");
  git("config", "user.email", "ops@example.net");
  git("remote", "add", "origin", remote);
  const file = join(work, "stacks", "Pulumi.traffic-us-west.yaml");
  writeFileSync(file, "config:\n  avfleet:example: true\n");
  writeFileSync(join(work, "Pulumi.yaml"), "name: avfleet\n");
  git("add", "stacks", "Pulumi.yaml");
  git("commit", "-q", "-m", "base");
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "gh"), GH);
  chmodSync(join(bin, "gh"), 0o755);
  const env = {
    ...process.env,
    PATH: `${bin}${delimiter}${process.env.PATH}`,
    GH_LOG: join(dir, "gh.log"),
    GH_PR: join(dir, "pr"),
  };
  const gh = () => readFileSync(env.GH_LOG, "utf8").trim().split("\n");
  return { work, remote, file, git, env, gh };
}

test("item 3: each publish commits the changed stack file to the branch, pushes it and opens one pull request, then updates it; the operator's checkout is untouched", async () => {
  const { work, remote, file, git, env, gh } = repo();
  const publish = gitPublisher(work, "avfleet/migrate-us-west", env);
  const head = git("rev-parse", "HEAD");
  writeFileSync(file, "config:\n  avfleet:example: true\n  # weights 75/25\n");
  const first = await publish([file], "avfleet migrate us-west: shift to 25 %");
  assert.match(
    first,
    /^stacks\/Pulumi\.traffic-us-west\.yaml committed to avfleet\/migrate-us-west \([0-9a-f]{12}\); pushed; pull request https:\/\/github\.com\/acme\/fleet\/pull\/7 opened$/,
  );
  const branch = git("rev-parse", "avfleet/migrate-us-west");
  assert.equal(
    git("show", "avfleet/migrate-us-west:stacks/Pulumi.traffic-us-west.yaml"),
    readFileSync(file, "utf8").trim(),
  );
  assert.equal(git("rev-parse", "avfleet/migrate-us-west^"), head, "branched from HEAD");
  assert.equal(
    git("log", "-1", "--format=%s", "avfleet/migrate-us-west"),
    "avfleet migrate us-west: shift to 25 %",
  );
  assert.equal(
    execFileSync("git", ["-C", remote, "rev-parse", "avfleet/migrate-us-west"], {
      encoding: "utf8",
    }).trim(),
    branch,
    "pushed",
  );
  assert.equal(git("rev-parse", "HEAD"), head, "HEAD stays");
  assert.equal(git("symbolic-ref", "--short", "HEAD"), "main");
  assert.equal(git("diff", "--cached", "--name-only"), "", "the index stays");
  assert.equal(
    git("status", "--porcelain"),
    "M stacks/Pulumi.traffic-us-west.yaml",
    "the working tree keeps the change",
  );

  writeFileSync(file, "config:\n  avfleet:example: true\n  # weights 50/50\n");
  const second = await publish([file], "avfleet migrate us-west: shift to 50 %");
  assert.match(
    second,
    /; pushed; pull request https:\/\/github\.com\/acme\/fleet\/pull\/7 updated$/,
  );
  assert.equal(
    git("rev-parse", "avfleet/migrate-us-west^"),
    branch,
    "one commit per step, on the branch",
  );
  assert.deepEqual(
    gh().map((line) => line.split(" ").slice(0, 2).join(" ")),
    ["pr view", "pr create", "pr view"],
    "one pull request, opened once",
  );
  assert.equal(
    await publish([file], "avfleet migrate us-west: again"),
    "avfleet/migrate-us-west already has stacks/Pulumi.traffic-us-west.yaml",
  );
});

test("item 3: a branch moved by someone else meanwhile is not overwritten; no origin is said", async () => {
  const { work, file, git, env } = repo();
  git("remote", "remove", "origin");
  const publish = gitPublisher(work, "migrate", env);
  writeFileSync(file, "config: {}\n");
  assert.match(
    await publish([file], "step"),
    /committed to migrate \([0-9a-f]{12}\); no remote origin$/,
  );
  assert.match(
    await gitPublisher(join(work, "nowhere"), "migrate", env)([file], "step"),
    /^not published: git rev-parse: /,
  );
});

test("item 3: the executor publishes the stack file of every step that changed one, and journals what became of it", async () => {
  const r = newRehearsal(US_WEST, FIXTURE_STACKS);
  const { ctx, world } = executorFor(r);
  const published: string[] = [];
  const drivers = {
    ...world,
    publish: async (files: string[], message: string) => {
      published.push(`${files.join(",")}: ${message}`);
      return "committed";
    },
  };
  await runMigration({ ...ctx, drivers });
  const traffic = stackFileName(FIXTURE_STACKS, "traffic-us-west");
  const pool = stackFileName(FIXTURE_STACKS, "gcp-us-west1");
  assert.deepEqual(published, [
    `${pool}: avfleet migrate us-west: scale gcp-us-west1 to at least 66 hosts`,
    ...[1, 5, 25, 50, 75, 100].map(
      (w) => `${traffic}: avfleet migrate us-west: shift gcp-us-west1 to ${w} %, bake 10m`,
    ),
  ]);
  const notes = journalOf(r).filter((e) => e.type === "note" && e.message === "publish: committed");
  assert.equal(notes.length, 7);
});

test("--publish is refused (exit 2) for a rehearsal and for a name that is no branch", () => {
  const run = (...args: string[]) =>
    avfleet([
      "migrate",
      "run",
      US_WEST,
      "--stacks-dir",
      FIXTURE_STACKS,
      "--state-dir",
      tempDir(),
      ...args,
    ]);
  const rehearsal = run("--rehearse", "--publish", "avfleet/m");
  assert.equal(rehearsal.code, 2);
  assert.match(
    rehearsal.stderr,
    /--publish is for real runs: a rehearsal or dry run changes no stack file/,
  );
  const bad = run("--publish", "a..b");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--publish a\.\.b is not a branch name like avfleet\/migrate-us-west/);
});
