/**
 * Stack files as teams write them: provider keys, secrets of other namespaces and ESC
 * environments next to our own spec. Only the avfleet namespace is strict.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import {
  loadStackFile,
  OFFLINE_SECRET,
  pulumiConfigMap,
  stackDocumentFromConfigMap,
  validateStackDocument,
} from "../../modules/stacks/stack";
import { avfleet, ROOT } from "../support/cli";
import { problemsLoading } from "../support/problems";

const GOOD = YAML.parse(readFileSync(join(ROOT, "stacks/Pulumi.gcp-us-west1.yaml"), "utf8"));

/** The example GCP stack as a team runs it: credentials, a profile, role chains, ESC. */
function asTeamsWriteIt(): Record<string, any> {
  const doc = structuredClone(GOOD);
  doc.config["aws:profile"] = "media-prod";
  doc.config["gcp:credentials"] = { secure: "v1:AAAAencrypted" };
  doc.config["aws:assumeRoles"] = [{ roleArn: "arn:aws:iam::123456789012:role/deployer" }];
  doc.config["team-esc:oncall"] = "[media-oncall"; // not JSON, though it starts like it
  doc.environment = ["media/prod-credentials"];
  return doc;
}

/** A copy of the example project whose stacks/ has one extra stack file. */
function projectWith(stack: string, doc: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-provider-keys-"));
  cpSync(join(ROOT, "stacks"), join(dir, "stacks"), { recursive: true });
  cpSync(join(ROOT, "inventory"), join(dir, "inventory"), { recursive: true });
  writeFileSync(join(dir, "stacks", `Pulumi.${stack}.yaml`), YAML.stringify(doc));
  return dir;
}

test("provider keys, other namespaces' secrets and ESC environments pass through", () => {
  const dir = projectWith("team", asTeamsWriteIt());
  const stack = loadStackFile(join(dir, "stacks/Pulumi.team.yaml"));
  assert.equal(stack.fleet?.pool, GOOD.config["avfleet:fleet"].pool);

  const { config, secretKeys } = pulumiConfigMap(stack.document);
  assert.deepEqual(secretKeys, ["avfleet:notifyPageSecret", "gcp:credentials"]);
  assert.equal(config["gcp:credentials"], OFFLINE_SECRET);
  assert.equal(config["aws:profile"], "media-prod");
  assert.equal(
    config["aws:assumeRoles"],
    '[{"roleArn":"arn:aws:iam::123456789012:role/deployer"}]',
  );
});

test("under `pulumi up` the program accepts the whole config map, decoding only our keys", () => {
  const { config } = pulumiConfigMap(
    validateStackDocument("Pulumi.team.yaml", asTeamsWriteIt()).document,
  );
  // What pulumi.runtime.allConfig() holds: every key of the stack, decrypted.
  const document = stackDocumentFromConfigMap({ ...config, "gcp:credentials": '{"type":"x"}' });
  const { document: validated } = validateStackDocument("Pulumi.team.yaml", document);
  assert.equal(validated.config["avfleet:fleet"]?.pool, GOOD.config["avfleet:fleet"].pool);
  // Other namespaces stay the strings Pulumi holds, even when they look like JSON.
  assert.equal((validated.config as Record<string, unknown>)["gcp:credentials"], '{"type":"x"}');
  assert.equal((validated.config as Record<string, unknown>)["team-esc:oncall"], "[media-oncall");
});

test("the avfleet namespace stays strict: unknown and unqualified keys are refused", () => {
  const doc = structuredClone(GOOD);
  doc.config["avfleet:fleeet"] = { kind: "gcp" };
  doc.config["zones"] = 3; // an unqualified key is the project's own, avfleet:zones
  doc.config["aws:profile"] = "media-prod";
  const problems = problemsLoading(loadStackFile, "Pulumi.bad.yaml", YAML.stringify(doc));
  assert.deepEqual(
    problems.map((p) => p.split(": is ")[0]),
    ["config.avfleet:fleeet", "config.zones"],
  );
  assert.match(problems[0], /is not a known key, expected one of .*avfleet:fleet, avfleet:traffic/);
});

test("CLI: the team's stack previews and passes policy; an unknown avfleet key exits 2", () => {
  const dir = projectWith("team", asTeamsWriteIt());
  const stacks = join(dir, "stacks");
  const preview = avfleet(["preview", "--stacks-dir", stacks, "team"]);
  assert.equal(preview.code, 0, preview.stderr);
  assert.match(preview.stdout, /team/);
  const policy = avfleet(["policy", "--stacks-dir", stacks, "team"]);
  assert.equal(policy.code, 0, policy.stdout + policy.stderr);
  assert.match(policy.stdout, /0 mandatory/);

  const bad = asTeamsWriteIt();
  bad.config["avfleet:drainSecs"] = 600;
  const refused = avfleet([
    "preview",
    "--stacks-dir",
    join(projectWith("bad", bad), "stacks"),
    "bad",
  ]);
  assert.equal(refused.code, 2);
  assert.equal(refused.stdout, "");
  assert.match(refused.stderr, /Pulumi\.bad\.yaml: config\.avfleet:drainSecs: is not a known key/);
});
