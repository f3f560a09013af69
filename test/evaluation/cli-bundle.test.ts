/**
 * bin/avfleet runs the CLI from a bundle cached by the bytes of its sources: the same output
 * and exit codes as the TypeScript under tsx, and a changed source is in the next run.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { tempProject } from "../diff/project";

const project = tempProject();
after(() => project.dispose());

const fromSource = (...args: string[]) => {
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", join(project.dir, "scripts/avfleet.ts"), ...args],
    { cwd: project.dir, encoding: "utf8" },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
};

test("the bundled CLI answers as the sources do, and is built once", () => {
  const help = project.avfleet("--help");
  assert.equal(help.code, 0, help.stderr);
  assert.deepEqual(help, fromSource("--help"));
  const cli = join(project.dir, ".avfleet/cache/cli");
  const bundles = () => readdirSync(cli).filter((f) => f.endsWith(".js"));
  assert.equal(bundles().length, 1);
  const bad = project.avfleet("preview", "no-such-stack");
  assert.equal(bad.code, 2);
  assert.deepEqual(bad, fromSource("preview", "no-such-stack"));
  assert.equal(bundles().length, 1, "unchanged sources: the same bundle");
});

test("a changed source is in the next run", () => {
  const file = join(project.dir, "scripts/commands/cache.ts");
  const source = readFileSync(file, "utf8");
  writeFileSync(file, source.replace(/summary: "[^"]*"/, 'summary: "a summary just edited"'));
  const help = project.avfleet("--help");
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /cache +a summary just edited/);
  writeFileSync(file, source);
  assert.doesNotMatch(project.avfleet("--help").stdout, /just edited/);
  assert.ok(existsSync(join(project.dir, `.avfleet/cache/cli/node-${process.version}.json`)));
});

test("a source saved while its bundle builds is not cached with the bundle: the next run builds again", () => {
  const manifestFile = join(project.dir, `.avfleet/cache/cli/node-${process.version}.json`);
  const manifest = () => JSON.parse(readFileSync(manifestFile, "utf8")) as { file: string };
  project.avfleet("--help");
  const before = manifest().file;
  const file = join(project.dir, "scripts/commands/cache.ts");
  const source = readFileSync(file, "utf8");
  // Saved after the build started, as an editor would while it runs: its mtime is later.
  writeFileSync(file, source.replace(/summary: "[^"]*"/, 'summary: "saved mid-build"'));
  const later = new Date(Date.now() + 3600_000);
  utimesSync(file, later, later);
  assert.match(project.avfleet("--help").stdout, /saved mid-build/);
  assert.equal(manifest().file, before, "the manifest still names the bundle before the edit");
  const earlier = new Date(Date.now() - 1000);
  utimesSync(file, earlier, earlier);
  assert.match(project.avfleet("--help").stdout, /saved mid-build/);
  assert.notEqual(manifest().file, before, "built once more, and cached this time");
  writeFileSync(file, source);
});
