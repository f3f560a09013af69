/**
 * Stack files as the Pulumi CLI leaves them. Any command that saves a stack file
 * (`pulumi config set`, `config set --secret`, `stack init`) edits it in place with
 * yamlutil.Edit: comments and key order stay, but every top-level config value is written
 * back as the string Pulumi holds (config.Value keeps a scalar as text; Value.MarshalYAML
 * re-encodes it as a string, which yaml.v3 quotes when it would read as a bool or number).
 * Sources: pulumi/pulumi 1b59498 sdk/go/common/util/yamlutil/edit.go (editNodes: the original
 * node keeps its style, takes the new tag and value), sdk/go/common/resource/config/object.go
 * (MarshalString: a bool or number becomes its JSON text, not an object) and value.go
 * (unmarshalObject: an untyped, non-object value is a string).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML, { isMap, isScalar, Scalar } from "yaml";
import {
  listStacks,
  loadStackFile,
  pulumiConfigMap,
  stackDocumentFromConfigMap,
  stackFileName,
} from "../../modules/stacks/stack";
import { stackFileSchema } from "../../modules/stacks/stack.schema";
import { evaluateExamples } from "../support/plans";
import { avfleet, ROOT } from "../support/cli";
import { problemsLoading } from "../support/problems";

/**
 * What yamlutil.Edit writes after a `config set` of any key, without --type: EVERY top-level
 * scalar of the file as a string, not only the key set (marshal.go:100-107 re-marshals the
 * whole stack; config/object.go:403 and value.go:170-175 hold a top-level scalar as text).
 * A string stays as it was; a bool or number becomes its quoted text.
 */
function cliRewrite(text: string): string {
  const doc = YAML.parseDocument(text);
  const config = doc.get("config");
  assert.ok(isMap(config));
  for (const pair of config.items) {
    if (isScalar(pair.value) && typeof pair.value.value !== "string") {
      const value = new Scalar(String(pair.value.value));
      // yaml.v3 quotes a !!str whose plain form would resolve to another type.
      value.type = Scalar.QUOTE_DOUBLE;
      value.comment = pair.value.comment;
      pair.value = value;
    }
  }
  return doc.toString();
}

const comments = (text: string) => text.split("\n").filter((line) => /^\s*#/.test(line));

test("every example stack, rewritten as the CLI writes it, loads and previews as before", async () => {
  const project = mkdtempSync(join(tmpdir(), "avfleet-cli-rewrite-"));
  try {
    mkdirSync(join(project, "stacks"));
    cpSync(join(ROOT, "inventory"), join(project, "inventory"), { recursive: true });
    const names = listStacks(join(ROOT, "stacks"));
    for (const name of names) {
      const text = readFileSync(stackFileName(join(ROOT, "stacks"), name), "utf8");
      const rewritten = cliRewrite(text);
      // The rewrite is the one a user meets: the flag quoted, every comment kept.
      assert.match(rewritten, /^ {2}avfleet:example: "true"$/m, name);
      assert.deepEqual(comments(rewritten), comments(text), name);
      writeFileSync(stackFileName(join(project, "stacks"), name), rewritten);
      const loaded = loadStackFile(stackFileName(join(project, "stacks"), name));
      assert.equal(loaded.document.config["avfleet:example"], "true");
      // What the program reads under the CLI: still an example, so an update is refused.
      const { config } = pulumiConfigMap(loaded.document);
      const decoded = stackDocumentFromConfigMap(config) as { config: Record<string, unknown> };
      assert.equal(decoded.config["avfleet:example"], true, name);
    }
    const preview = avfleet(["preview", "--json", "--stacks-dir", join(project, "stacks")]);
    assert.equal(preview.code, 0, preview.stderr);
    const rewritten = JSON.parse(preview.stdout).stacks as {
      name: string;
      resources: { urn: string; inputs: unknown }[];
    }[];
    const original = await evaluateExamples(...names);
    assert.deepEqual(
      rewritten.map((s) => [s.name, s.resources.map((r) => [r.urn, r.inputs])]),
      original.map((p) => [p.name, p.resources.map((r) => [r.urn, r.inputs])]),
    );
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
});

const USW = readFileSync(join(ROOT, "stacks/Pulumi.gcp-us-west1.yaml"), "utf8");
const problemsOf = (text: string) => problemsLoading(loadStackFile, "Pulumi.bad.yaml", text);

test("the inline ESC environment form is accepted, a scalar environment is refused", () => {
  const inline = `environment:\n  imports: [media/prod]\n  values:\n    pulumiConfig:\n      aws:profile: media\n${USW}`;
  const file = join(mkdtempSync(join(tmpdir(), "avfleet-env-")), "Pulumi.gcp-us-west1.yaml");
  writeFileSync(file, inline);
  assert.deepEqual(loadStackFile(file).document.environment, {
    imports: ["media/prod"],
    values: { pulumiConfig: { "aws:profile": "media" } },
  });
  writeFileSync(file, `environment: [media/prod, media/shared]\n${USW}`);
  assert.deepEqual(loadStackFile(file).document.environment, ["media/prod", "media/shared"]);
  assert.deepEqual(problemsOf(`environment: media/prod\n${USW}`), [
    'environment: is string "media/prod", expected the Pulumi ESC environments this stack imports: a list of names, or an inline ESC definition {imports: [...], values: {...}}',
  ]);
});

test("avfleet:example takes a boolean or its string, nothing else", () => {
  assert.deepEqual(problemsOf(USW.replace("avfleet:example: true", 'avfleet:example: "yes"')), [
    'config.avfleet:example: is "yes", expected true (or "true", as the Pulumi CLI rewrites it) for a stack file that is an example: its placeholder values (example ids, domains, address ranges) are reported as advisory instead of mandatory; remove it in a stack you apply',
  ]);
  // Not an example any more: its secret must look like ciphertext (16 random-looking bytes).
  const quoted = USW.replace("avfleet:example: true", 'avfleet:example: "false"').replace(
    /secure: v1:\S+/,
    `secure: v1:${Buffer.from([...Array(16).keys()].map((i) => (i * 97 + 211) % 256)).toString("base64")}:${Buffer.from([...Array(24).keys()].map((i) => (i * 53 + 7) % 256)).toString("base64")}`,
  );
  const file = join(mkdtempSync(join(tmpdir(), "avfleet-example-")), "Pulumi.gcp-us-west1.yaml");
  writeFileSync(file, quoted);
  const { config } = pulumiConfigMap(loadStackFile(file).document);
  const decoded = stackDocumentFromConfigMap(config) as { config: Record<string, unknown> };
  assert.equal(decoded.config["avfleet:example"], false);
});

/**
 * Every top-level scalar key the schema lets the program decode: not a structured value
 * (fleet, traffic, rollout) and not a secret ({secure: …}).
 */
const TOP_LEVEL_SCALARS = Object.entries(
  stackFileSchema.properties.config.properties as Record<string, object>,
)
  .filter(([, schema]) => !("type" in schema && schema.type === "object"))
  .map(([key]) => key);

test("every top-level scalar the program decodes takes both the CLI's string and the --type form", () => {
  assert.deepEqual([...TOP_LEVEL_SCALARS].sort(), [
    "avfleet:example",
    "aws:region",
    "gcp:project",
    "gcp:region",
  ]);
  const project = mkdtempSync(join(tmpdir(), "avfleet-scalars-"));
  const dir = join(project, "stacks");
  mkdirSync(dir);
  cpSync(join(ROOT, "inventory"), join(project, "inventory"), { recursive: true });
  let checked = 0;
  for (const name of listStacks(join(ROOT, "stacks"))) {
    const text = readFileSync(stackFileName(join(ROOT, "stacks"), name), "utf8");
    const native = YAML.parse(text).config as Record<string, unknown>;
    for (const key of TOP_LEVEL_SCALARS.filter((k) => k in native)) {
      const file = join(dir, `Pulumi.${name}.yaml`);
      const decoded = (form: string) => {
        const doc = YAML.parseDocument(text);
        // `config set KEY V` (a string, quoted as yaml.v3 does) or `config set --type bool|int|float`.
        const value = new Scalar(form === "string" ? String(native[key]) : native[key]);
        if (form === "string") value.type = Scalar.QUOTE_DOUBLE;
        (doc.get("config") as YAML.YAMLMap).set(key, value);
        writeFileSync(file, doc.toString());
        const { config } = pulumiConfigMap(loadStackFile(file).document);
        return (stackDocumentFromConfigMap(config) as { config: Record<string, unknown> }).config[
          key
        ];
      };
      assert.deepEqual(decoded("string"), decoded("typed"), `${name} ${key}`);
      checked++;
    }
  }
  assert.ok(checked >= 16, `only ${checked} top-level scalars checked`);
});
