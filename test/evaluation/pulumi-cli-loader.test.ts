/**
 * Loader fidelity: the Pulumi CLI does not run our program as our offline tools do (the
 * cached bundle, or tsx). Its Node.js host registers ts-node (modules/evaluation/pulumi-cli-register.js
 * does the same) and `require`s index.ts, which resolves and type-checks in its own way. Every
 * stack must evaluate to the same Plan both ways, and a file that would load differently under
 * the CLI must fail here.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, extname, join } from "node:path";
import { listStacks, stackFileName } from "../../modules/stacks/stack";
import { evaluateStack, evaluateStacks, EvaluationError } from "../../modules/evaluation/evaluate";
import { ROOT } from "../support/cli";

const STACKS = join(ROOT, "stacks");
const stacks = listStacks(STACKS).map((name) => ({ name, file: stackFileName(STACKS, name) }));

/** Runs `work` with the CLI's switch for skipping type checks set (children inherit it). */
async function transpileOnly<T>(work: () => Promise<T>): Promise<T> {
  process.env.PULUMI_NODEJS_TRANSPILE_ONLY = "true";
  try {
    return await work();
  } finally {
    delete process.env.PULUMI_NODEJS_TRANSPILE_ONLY;
  }
}

test("every stack evaluates to the same Plan under the Pulumi CLI's loader as offline", async () => {
  const offline = await evaluateStacks(stacks);
  // Type checking is the same for every stack (one program): once is enough, and the CLI
  // does it unless told not to.
  const [checked] = await evaluateStacks(stacks.slice(0, 1), { loader: "pulumi-cli" });
  const viaCli = [
    checked,
    ...(await transpileOnly(() => evaluateStacks(stacks.slice(1), { loader: "pulumi-cli" }))),
  ];
  assert.ok(stacks.length >= 8, "the example stacks are all here");
  for (let i = 0; i < stacks.length; i++) {
    assert.ok(offline[i].resources.length > 0, `${stacks[i].name} declares resources`);
    assert.deepEqual(
      viaCli[i],
      offline[i],
      `${stacks[i].name}: the CLI's loader sees another program`,
    );
  }
});

/** Every .ts file of the program, the CLI's own entry files and the pack, recursively. */
function typescriptFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (entry === "node_modules") return [];
    if (statSync(path).isDirectory()) return typescriptFiles(path);
    return extname(entry) === ".ts" ? [path] : [];
  });
}

/**
 * Under a CommonJS require hook an extensionless import tries .js, .json and .node before
 * .ts: a sibling with one of those names shadows the module.
 */
function shadowedModules(root: string): string[] {
  return ["modules", "policy", "scripts"]
    .flatMap((dir) => typescriptFiles(join(root, dir)))
    .concat(join(root, "index.ts"))
    .flatMap((file) => {
      const stem = file.slice(0, -".ts".length);
      const siblings = readdirSync(join(file, ".."));
      return [".js", ".json", ".node"]
        .filter((ext) => siblings.includes(basename(stem) + ext))
        .map((ext) => `${stem}${ext} shadows ${file}`);
    });
}

test("no module has a .js, .json or .node sibling that a require hook would load instead", () => {
  assert.deepEqual(shadowedModules(ROOT), []);
});

test("test of the test: a colliding sibling fails under the CLI's loader (tsx would hide it)", async () => {
  const project = mkdtempSync(join(tmpdir(), "avfleet-collision-"));
  for (const entry of ["index.ts", "Pulumi.yaml", "package.json", "tsconfig.json"]) {
    cpSync(join(ROOT, entry), join(project, entry));
  }
  for (const dir of ["modules", "stacks", "inventory", "policy", "scripts"]) {
    cpSync(join(ROOT, dir), join(project, dir), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(project, "node_modules"));
  // modules/fleets/gcp.ts imports "./labels"; a labels.json beside labels.ts shadows it.
  writeFileSync(join(project, "modules/fleets/labels.json"), "{}\n");
  assert.deepEqual(shadowedModules(project), [
    `${join(project, "modules/fleets/labels.json")} shadows ${join(project, "modules/fleets/labels.ts")}`,
  ]);

  const stack = { name: "gcp-us-west1", file: join(project, "stacks/Pulumi.gcp-us-west1.yaml") };
  const shadowed = (err: unknown) =>
    err instanceof EvaluationError && /fleetLabels\) is not a function/.test(err.output);
  await assert.rejects(
    transpileOnly(() => evaluateStack(stack, project, "pulumi-cli")),
    shadowed,
  );
  // The offline bundle resolves as a require hook does, so it fails the same way; tsx, which
  // tries .ts first, would have hidden the collision.
  await assert.rejects(evaluateStack(stack, project, "bundle"), shadowed);
});
