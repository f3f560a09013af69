/**
 * Two YAML parsers, one set of values: whatever the fast path (js-yaml) accepts, the yaml
 * package accepts too, without an error or a warning, and gives the same value — for every
 * YAML file in the repository, for tricky scalars and keys, for random documents in every
 * style the yaml package writes, and for random edits of the example files.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { parsePlainYaml, parseYamlText } from "../../modules/inputs/yaml-read";
import { ROOT } from "../support/cli";

/** The yaml package alone: the value, or undefined when it reports anything. */
function reference(text: string): unknown {
  const doc = YAML.parseDocument(text, { uniqueKeys: true });
  return doc.errors.length + doc.warnings.length > 0 ? undefined : doc.toJS();
}

function agree(text: string): void {
  const fast = parsePlainYaml(text);
  if (fast === undefined) return;
  const slow = reference(text);
  assert.notEqual(slow, undefined, `js-yaml accepted what the yaml package refuses:\n${text}`);
  assert.deepStrictEqual(fast, slow, `the parsers disagree on:\n${text}`);
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (entry === "node_modules" || entry.startsWith(".")) return [];
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry) ? [path] : [];
  });
}

test("every YAML file in the repository parses to the same value on both paths", () => {
  const files = yamlFiles(ROOT);
  assert.ok(files.length > 20, `found ${files.length} YAML files`);
  let fast = 0;
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    agree(text);
    if (parsePlainYaml(text) !== undefined) fast++;
  }
  // The stack files and inventories are plain: they take the fast path.
  assert.ok(fast >= files.length / 2, `${fast} of ${files.length} took the fast path`);
});

test("an inventory and a stack file take the fast path", () => {
  for (const file of ["inventory/metal-sjc.yaml", "stacks/Pulumi.gcp-us-west1.yaml"]) {
    const text = readFileSync(join(ROOT, file), "utf8");
    assert.deepStrictEqual(parsePlainYaml(text), reference(text), file);
  }
});

test("scalars and keys the YAML 1.2 core schema resolves, and the ones it keeps as strings", () => {
  const scalars = [
    ...["~", "null", "Null", "NULL", "nULL", "", "true", "True", "TRUE", "tRUE", "yes", "on"],
    ...["0", "-0", "+12", "012", "0o17", "0o8", "0x1F", "0X1F", "0b101", "1_000", "+0x1"],
    ...["1.", ".5", "-.5e-3", "1e3", "1E+3", ".inf", "+.inf", "-.Inf", ".NaN", ".nan", "1.0"],
    ...["1e400", "-1e400", "1e-400", "99999999999999999999", "0x" + "f".repeat(20), "0o0"],
    ...["2026-11-29", "12:30", "1:2", "'1'", '"true"', "10.0.0.0/8", "sha256:ab", "a b"],
  ];
  for (const scalar of scalars) {
    agree(`k: ${scalar}\n`);
    agree(`- ${scalar}\n`);
    agree(`${scalar}: v\n`);
    agree(`{${scalar}: [${scalar}]}\n`);
  }
  // A null key is "" to one parser and "null" to the other, 1e400 Infinity to one and a
  // string to the other: such documents go the slow way.
  assert.equal(parsePlainYaml("~: 1\n"), undefined);
  assert.equal(parsePlainYaml("null: 1\n"), undefined);
  assert.equal(parsePlainYaml("maxHosts: 1e400\n"), undefined);
});

test("what the checks look at goes the slow way, where its problem has a position", () => {
  const slow = [
    "a: &x 1\nb: *x\n",
    "<<: {a: 1}\nb: 2\n",
    "a: !!str 1\n",
    "%YAML 1.1\n---\na: yes\n",
    "a: 1\na: 2\n",
    "a: 1\n---\nb: 2\n",
    "",
    "# nothing\n",
    "a:\n\t- 1\n",
  ];
  for (const text of slow) assert.equal(parsePlainYaml(text), undefined, JSON.stringify(text));
  const merge = parseYamlText("<<: {a: 1}\nb: 2\n", "a mapping");
  assert.equal(merge.value, undefined);
  assert.deepEqual(merge.problems[0].position, { line: 1, col: 1 });
  const duplicate = parseYamlText("a: 1\na: 2\n", "a mapping");
  assert.deepEqual(duplicate.problems[0].position, { line: 2, col: 1 });
});

const word = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom("null", "~", "true", "0x1F", "0o7", "1e3", ".inf", "-0", "1_0", "a: b", "- x"),
  fc.constantFrom("#c", "'q'", '"d"', "[x]", "{y}", "a\nb", " lead", "trail ", "\\n", "é", "\t"),
);
const document = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    word,
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(word, tie("value"), { maxKeys: 4 }),
  ),
})).value;
const styles: YAML.ToStringOptions[] = [
  {},
  { defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN" },
  { defaultStringType: "QUOTE_SINGLE" },
  { defaultStringType: "BLOCK_LITERAL" },
  { defaultStringType: "BLOCK_FOLDED", lineWidth: 20 },
  { collectionStyle: "flow" },
  { indentSeq: false, indent: 4 },
];

test("random documents, in every style the yaml package writes, parse alike", () => {
  fc.assert(
    fc.property(document, fc.constantFrom(...styles), (value, style) => {
      agree(YAML.stringify({ root: value }, style));
    }),
    { numRuns: 400, seed: 17 },
  );
});

test("random edits of the example files parse alike, or go the slow way", () => {
  const examples = ["inventory/metal-sjc.yaml", "stacks/Pulumi.metal-sjc.yaml"].map((f) =>
    readFileSync(join(ROOT, f), "utf8"),
  );
  const edit = fc.record({
    at: fc.nat(),
    remove: fc.nat({ max: 3 }),
    insert: fc.stringMatching(/^[ \n\t:\-#'"{}[\],?|>0-9.e~x_+a-z]{0,4}$/),
  });
  fc.assert(
    fc.property(fc.constantFrom(...examples), fc.array(edit, { maxLength: 3 }), (text, edits) => {
      for (const { at, remove, insert } of edits) {
        const i = at % (text.length + 1);
        text = text.slice(0, i) + insert + text.slice(i + remove);
      }
      agree(text);
    }),
    { numRuns: 300, seed: 17 },
  );
});
