/**
 * #27 finding 8: the commands agree with each other and with docs/reference/commands.md — one
 * name per option across commands, every directory a command reads or writes named in its row
 * of the command table, and preview's --help describing the evaluation the code runs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../support/cli";

const commandsDir = join(ROOT, "scripts/commands");
const helps = new Map<string, string>(
  readdirSync(commandsDir)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => [f.replace(/\.ts$/, ""), require(join(commandsDir, f)).command.help as string]),
);
const reference = readFileSync(join(ROOT, "docs/reference/commands.md"), "utf8");

/** The options a command's --help names, in its usage, its options and its prose. */
const optionsOf = (help: string) =>
  new Set([...help.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*[a-z0-9])/g)].map((m) => m[1]));

/** The command table's row for `avfleet <name>`, or "". */
const rowOf = (name: string) =>
  reference.split("\n").find((line) => line.includes(`avfleet ${name} `)) ?? "";

test("an option that several commands take is in the reference's table of shared options", () => {
  const takers = new Map<string, string[]>();
  for (const [name, help] of helps)
    for (const option of optionsOf(help)) takers.set(option, [...(takers.get(option) ?? []), name]);
  const shared = reference.slice(reference.indexOf("Options several commands share"));
  const missing = [...takers]
    .filter(([option, names]) => names.length > 1 && !shared.includes(`\`${option}`))
    .map(([option, names]) => `${option} (${names.join(", ")})`);
  assert.deepEqual(missing, []);
});

test("every directory option of a command is in its row of the command table", () => {
  const missing = [...helps].flatMap(([name, help]) =>
    [...optionsOf(help)]
      .filter((option) => option.endsWith("-dir") && rowOf(name) && !rowOf(name).includes(option))
      .map((option) => `${name}: ${option}`),
  );
  assert.deepEqual(missing, []);
  assert.match(rowOf("migrate"), /--state-dir DIR/);
});

test("the stacks directory is --stacks-dir everywhere; --stacks is only observe's old name", () => {
  for (const [name, help] of helps) {
    assert.doesNotMatch(help, /^ {2}--stacks /m, `${name} lists --stacks as an option`);
  }
  assert.match(
    helps.get("observe")!,
    /--stacks DIR is its old name, still accepted with a warning/,
  );
});

test("preview --help says what the evaluation does: warm workers, one per core", () => {
  const preview = helps.get("preview")!;
  assert.doesNotMatch(preview, /one process per\s+stack/);
  assert.match(preview, /warm worker\s+processes, one per core/);
  assert.match(
    readFileSync(join(ROOT, "docs/reference/evaluation.md"), "utf8"),
    /one worker per core evaluates stack after stack, the largest first/,
  );
});
