/** What a bare-metal site keeps in Pulumi's state, per host and in all. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ciphertextLength, resourceStateBytes, stored } from "../../modules/plan/state-size";
import { measureSite } from "../../bench/state";
import { missingCommands, prerequisite } from "../support/prerequisites";

const SIG = "4dabf18193072939515e22adb298388d";

/** As the passphrase secrets provider seals a value: AES-256-GCM, a 12-byte nonce, base64. */
function sealed(plaintext: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", randomBytes(32), nonce);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return `v1:${nonce.toString("base64")}:${ct.toString("base64")}`;
}

test("a secret is as long as the passphrase provider seals its JSON; an asset is its hash and path, never its content", () => {
  for (const plaintext of ["", "x", "a".repeat(389), JSON.stringify({ host: "10.0.0.1" })]) {
    assert.equal(ciphertextLength(Buffer.byteLength(plaintext)), sealed(plaintext).length);
  }
  const connection = { host: "10.20.1.11", user: "avfleet" };
  assert.deepEqual(stored({ [SIG]: "1b47061264138c4ac30d75fd1eb44270", value: connection }), {
    [SIG]: "1b47061264138c4ac30d75fd1eb44270",
    ciphertext: "x".repeat(sealed(JSON.stringify(connection)).length),
  });
  assert.deepEqual(
    stored({ [SIG]: "c44067f5952c0a294b673a41bacd8c17", __pulumiAsset: true, path: "p.sh" }),
    { [SIG]: "c44067f5952c0a294b673a41bacd8c17", hash: "0".repeat(64), path: "p.sh" },
  );
  // A command's outputs are its inputs again and the line it prints.
  const command = resourceStateBytes({
    type: "command:local:Command",
    name: "c",
    custom: true,
    inputs: { create: "echo ok" },
  });
  assert.equal(
    command.compact,
    JSON.stringify({ create: "echo ok" }).length +
      JSON.stringify({ create: "echo ok", stdout: "ok", stderr: "" }).length,
  );
});

test("per host, the state keeps at most 4 KiB, bastion or not; the stack's key adds nothing to it", (t) => {
  if (!prerequisite(t, missingCommands("ssh-keygen"))) return;
  const keyFile = join(mkdtempSync(join(tmpdir(), "avfleet-state-")), "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "avfleet@ops", "-f", keyFile]);
  const ams = measureSite("stacks/Pulumi.metal-ams.yaml", "agent");
  const amsKey = measureSite("stacks/Pulumi.metal-ams.yaml", { keyFile });
  const sjc = measureSite("stacks/Pulumi.metal-sjc.yaml", "agent");
  assert.equal(ams.hosts, 23);
  assert.ok(ams.maxPerHost.compact <= 4096, `metal-ams: ${ams.maxPerHost.compact} bytes per host`);
  // The key is written beside the ssh_config where pulumi runs; no resource carries it.
  assert.deepEqual(amsKey.maxPerHost, ams.maxPerHost);
  // metal-sjc reaches its hosts through a bastion: its ssh_config says so, no host's command.
  assert.ok(sjc.maxPerHost.compact <= 4096, `metal-sjc: ${sjc.maxPerHost.compact}`);
  // The inline payload this replaced kept about 190 KiB per host.
  assert.ok(sjc.total.compact < 0.5 * 1024 * 1024, `metal-sjc in all: ${sjc.total.compact}`);
});
