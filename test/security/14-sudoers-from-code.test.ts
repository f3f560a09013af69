/**
 * Finding 14: the sudoers rule a bare-metal site grants comes from the code that runs the
 * commands, `avfleet sudoers` prints it, it names exactly what a host's command runs through
 * sudo (a copied rule that lacks one fails the host, and sites then widen the grant), and it
 * grants nothing beyond those argv: no wildcard, no other runas, no shell with free arguments.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostCommand, PAYLOAD_PATH, sudoersRule } from "../../modules/host-payloads/metal-payload";
import { sha256 } from "../../modules/tuning";
import { avfleet } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";

const SHA = sha256("#!/bin/sh\necho payload ran\n");

/** The rule's commands, each an argv, as sudoers(5) lists them after the tag. */
function ruleCommands(rule: string): string[] {
  const match = /^(\S+) ALL=\(root\) NOPASSWD: (.+)$/.exec(rule);
  assert.ok(match, `one user, runas root only, NOPASSWD: ${rule}`);
  return match[2].split(", ");
}

/** Every `sudo -n …` the host's command runs, its shell variables expanded as the host does. */
function sudoInvocations(command: string): string[] {
  const vars = Object.fromEntries(
    command
      .split("\n")[0]
      .split(" ")
      .map((kv) => kv.split("=") as [string, string]),
  );
  // What it echoes may name sudo; that runs nothing.
  const code = command.replace(/echo "[^"]*"/g, "echo");
  const expanded = code.replace(/\$([a-z])\b/g, (_, name: string) => vars[name] ?? `$${name}`);
  return [...expanded.matchAll(/sudo -n ([^;)}>|<]+?)\s*(?=[;)}>|<]|$)/gm)].map((m) => m[1]);
}

test("avfleet sudoers prints the site's rule, the one the code renders for its ssh.user", () => {
  const run = avfleet(["sudoers", "metal-sjc"]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, `${sudoersRule("avfleet")}\n`);
  assert.match(run.stdout, /^avfleet ALL=\(root\) NOPASSWD: /);
});

test("the rule lists exactly the commands a host's command runs through sudo -n", () => {
  const invoked = new Set(sudoInvocations(hostCommand("avfleet", SHA)));
  assert.deepEqual([...invoked].sort(), ruleCommands(sudoersRule("avfleet")).sort());
  assert.deepEqual([...invoked].sort(), [
    `/bin/sh ${PAYLOAD_PATH}`,
    `/usr/bin/install -D -o root -g root -m 0700 /dev/stdin ${PAYLOAD_PATH}`,
    `/usr/bin/sha256sum ${PAYLOAD_PATH}`,
  ]);
  // A root login needs no rule, and its command runs no sudo that a rule would have to cover.
  assert.deepEqual(sudoInvocations(hostCommand("root", SHA)), []);
});

test("the rule grants fixed argv only: no wildcard, no ALL, no other target than root's payload file", () => {
  for (const argv of ruleCommands(sudoersRule("deploy"))) {
    // sudoers(5), Cmnd_List: arguments may hold shell wildcards, or a regular expression when
    // they start with ^; a command without arguments may be run with any.
    assert.doesNotMatch(argv, /[*?[\]\\^]|\bALL\b|""/, `${argv}: sudoers would match more`);
    const words = argv.split(" ");
    assert.match(words[0], /^\/(usr\/)?bin\/[a-z0-9]+$/, `${argv}: an absolute program`);
    assert.equal(words.at(-1), PAYLOAD_PATH, `${argv}: acts on root's payload file alone`);
  }
});

test("avfleet sudoers refuses a stack that is not a bare-metal site (exit 2, file and key named)", () => {
  const run = avfleet(["sudoers", "gcp-us-west1"]);
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.match(
    run.stderr,
    /stacks\/Pulumi\.gcp-us-west1\.yaml: config\.avfleet:fleet\.kind is "gcp", expected "metal"/,
  );
  const unknown = avfleet(["sudoers", "no-such-site"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown stack no-such-site/);
});

test("visudo accepts the rule as a sudoers.d file", (t) => {
  if (!prerequisite(t, missingCommands("visudo"))) return;
  const dir = mkdtempSync(join(tmpdir(), "sudoers-"));
  const file = join(dir, "avfleet");
  writeFileSync(file, `${sudoersRule("avfleet")}\n`);
  chmodSync(file, 0o440);
  const check = spawnSync("visudo", ["-c", "-f", file], { encoding: "utf8" });
  assert.equal(check.status, 0, check.stdout + check.stderr);
});
