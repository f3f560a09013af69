/**
 * The PR-diff workflow, read as GitHub reads it (issue #29): it validates against SchemaStore's
 * workflow schema (vendored: test/fixtures/schemastore), diffs the merge commit against its first
 * parent, finds its comment by marker and author, replaces a stale comment when the run fails,
 * keeps credentials and write tokens away from the PR's code, saves the cache from main only,
 * survives a re-run and runs on a supported Node. The comment script runs here against a fake
 * GitHub API.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import Ajv from "ajv";
import YAML from "yaml";
import { ROOT } from "../support/cli";

type Doc = Record<string, any>;
type Step = Doc;

const WORKFLOWS = [".github/workflows/infra-diff.yml", ".github/workflows/ci.yml"];
const read = (file: string): Doc => YAML.parse(readFileSync(join(ROOT, file), "utf8"));
const workflow = read(".github/workflows/infra-diff.yml");
const jobs = workflow.jobs as Record<string, Doc>;
const steps = (job: string): Step[] => jobs[job].steps;
const uses = (step: Step) => (step.uses as string | undefined)?.split("@") ?? [];

test("both workflows validate against SchemaStore's github-workflow.json", () => {
  const schema = JSON.parse(
    readFileSync(join(ROOT, "test/fixtures/schemastore/github-workflow.json"), "utf8"),
  );
  const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
  for (const file of WORKFLOWS) {
    assert.ok(validate(read(file)), `${file}: ${JSON.stringify(validate.errors, null, 2)}`);
  }
  // The schema refuses what GitHub refuses: a key workflows do not have.
  assert.equal(validate({ ...workflow, permission: { contents: "read" } }), false);
});

test("the diff is the merge commit against its first parent, which a depth-2 clone holds", () => {
  const text = readFileSync(join(ROOT, ".github/workflows/infra-diff.yml"), "utf8");
  assert.doesNotMatch(text, /pull_request\.base\.sha/);
  const run = steps("shard").find((s) => /avfleet diff/.test(s.run ?? ""))!;
  assert.match(run.run, /--base HEAD\^1 /);
  const checkout = steps("shard").find((s) => uses(s)[0] === "actions/checkout")!;
  assert.equal(checkout.with["fetch-depth"], 2);
});

/** The comment step's script, run with a fake GitHub holding `comments`. */
async function comment(
  env: Record<string, string>,
  comments: { id: number; body: string; user: { login: string; type: string } }[],
  files: Record<string, string> = {},
) {
  const step = steps("comment").find((s) => uses(s)[0] === "actions/github-script")!;
  const calls: { method: string; args: Doc }[] = [];
  const api = (method: string) => async (args: Doc) => void calls.push({ method, args });
  const github = {
    paginate: async () => comments,
    rest: {
      issues: {
        listComments: {},
        updateComment: api("updateComment"),
        createComment: api("createComment"),
      },
    },
  };
  const context = { repo: { owner: "o", repo: "r" }, issue: { number: 7 } };
  const fakeRequire = (m: string) => {
    assert.equal(m, "node:fs");
    return { readFileSync: (f: string) => files[f] };
  };
  const stepEnv = Object.fromEntries(Object.keys(step.env).map((k) => [k, env[k] ?? ""]));
  const processEnv = { MARKER: workflow.env.MARKER, ...stepEnv };
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  await new AsyncFunction("require", "github", "context", "process", step.with.script)(
    fakeRequire,
    github,
    context,
    { env: processEnv },
  );
  return calls;
}

const BOT = { login: "github-actions[bot]", type: "Bot" };
const MARKER = "<!-- avfleet-diff -->";

test("the comment is found by marker and author: a marker someone else posted is left alone", async () => {
  const env = { SHA: "abc123", CODE: "0", URL: "https://example/artifact", CHANGED: "gcp-a" };
  const impostor = {
    id: 1,
    body: `${MARKER}\nfake diff`,
    user: { login: "mallory", type: "User" },
  };
  const ours = { id: 2, body: `${MARKER}\nold diff`, user: BOT };
  const updated = await comment(env, [impostor, ours], { "diff.md": "### avfleet diff\n" });
  assert.equal(updated.length, 1);
  assert.equal(updated[0].method, "updateComment");
  assert.equal(updated[0].args.comment_id, 2);
  assert.match(updated[0].args.body, /^<!-- avfleet-diff -->\n### avfleet diff\n/);
  assert.match(updated[0].args.body, /\[avfleet-diff artifact\]\(https:\/\/example\/artifact\)/);

  const created = await comment(env, [impostor], { "diff.md": "### avfleet diff\n" });
  assert.deepEqual(
    created.map((c) => c.method),
    ["createComment"],
  );
});

test("a failed run replaces the last diff with why it failed", async () => {
  const ours = { id: 2, body: `${MARKER}\nthe previous push's diff`, user: BOT };
  const why = "avfleet diff merge exited 2: (shards): shard 2/4: is missing";
  const calls = await comment({ SHA: "abc123", CODE: "2", WHY: why }, [ours]);
  assert.equal(calls[0].method, "updateComment");
  assert.match(
    calls[0].args.body,
    /^<!-- avfleet-diff -->\n\*\*avfleet diff failed for abc123\*\*: avfleet diff merge exited 2: \(shards\): shard 2\/4: is missing/,
  );
  // The diff job failed before it said anything (npm ci): still a failure, not the old diff.
  const silent = await comment({ SHA: "abc123", CODE: "" }, [ours]);
  assert.match(silent[0].args.body, /avfleet diff failed for abc123\*\*: the diff job failed/);
  // The comment job runs whatever the diff job did, and the download may find no shard.
  assert.match(jobs.comment.if, /!cancelled\(\)/);
  const download = steps("diff").find((s) => uses(s)[0] === "actions/download-artifact")!;
  assert.equal(download["continue-on-error"], true);
});

test("least privilege: no token by default, none persisted, credentials only behind the preview environment", () => {
  assert.deepEqual(workflow.permissions, {});
  for (const [name, job] of Object.entries(jobs)) {
    for (const step of job.steps as Step[]) {
      if (uses(step)[0] === "actions/checkout") {
        assert.equal(step.with["persist-credentials"], false, `${name}: persist-credentials`);
      }
    }
    const writes = Object.entries(job.permissions ?? {}).filter(([, v]) => v === "write");
    const text = JSON.stringify(job);
    if (name === "comment") {
      assert.deepEqual(writes, [["pull-requests", "write"]]);
      assert.ok(!text.includes("npm ci"), "the job with a write token runs none of the PR's code");
    } else if (name === "preview") {
      // No OIDC token either until a step uses it: every step (npm ci included) could ask for one.
      assert.deepEqual(writes, []);
    } else {
      assert.deepEqual(job.permissions, { contents: "read" }, name);
    }
    if (name !== "preview") assert.doesNotMatch(text, /secrets\./, `${name} reads no secret`);
  }
  assert.equal(jobs.preview.environment, "preview");
  assert.match(jobs.preview.if, /head\.repo\.full_name == github\.repository/);
  // A missing environment is created on first use with no reviewers: fail closed until the
  // repository says it has them.
  assert.match(jobs.preview.if, /vars\.AVFLEET_PREVIEW_PROTECTED == 'true'/);
  assert.match(jobs.preview.if, /^\$\{\{ !cancelled\(\) && /);
});

test("the cache is saved from main only, keyed by commit; re-runs overwrite artifacts; Node 24 actions", () => {
  const shard = steps("shard");
  const save = shard.find((s) => uses(s)[0] === "actions/cache/save")!;
  assert.equal(save.if, "github.event_name == 'push'");
  assert.deepEqual(workflow.on.push, { branches: ["main"] });
  const restore = shard.find((s) => uses(s)[0] === "actions/cache/restore")!;
  for (const key of [save.with.key, restore.with.key]) {
    assert.doesNotMatch(key, /run_id/);
    assert.match(key, /github\.sha/);
  }
  assert.ok(!shard.some((s) => uses(s)[0] === "actions/cache"), "no save from a PR");

  const all = Object.values(jobs).flatMap((j) => j.steps as Step[]);
  for (const s of all.filter((s) => uses(s)[0] === "actions/upload-artifact")) {
    assert.equal(s.with.overwrite, true, s.with.name);
  }
  // Majors whose action.yml says `using: node24` (docs/real-path.md, issue #29).
  const NODE24: Record<string, number> = {
    "actions/checkout": 5,
    "actions/setup-node": 5,
    "actions/cache/restore": 5,
    "actions/cache/save": 5,
    "actions/upload-artifact": 6,
    "actions/download-artifact": 7,
    "actions/github-script": 8,
  };
  for (const s of all.filter((s) => s.uses)) {
    const [action, version] = uses(s);
    assert.ok(action in NODE24, `${action}: not one whose runtime is checked`);
    assert.ok(Number(version.replace(/^v/, "")) >= NODE24[action], `${action}@${version}`);
  }
  for (const s of all.filter((s) => uses(s)[0] === "actions/setup-node")) {
    assert.ok(s.with["node-version"] >= 22, `node ${s.with["node-version"]}`);
  }
});
