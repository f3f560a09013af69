/**
 * Finding 11: the local state directory is trusted by every run that reads it. A symbolic link
 * planted as the journal or the abort file must not make an executor write through it; a
 * directory others can write to, or someone else's, is refused; and a lock whose pid merely
 * looks dead from here (another host on a shared filesystem, another PID namespace, another
 * boot) is not taken over.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { loadRunbook } from "../../modules/runbook/runbook";
import { createWorld, saveWorld } from "../../modules/rehearsal/world";
import { localBackend, statePaths, thisHolder } from "../../modules/migration-state/backend";
import { acquireLock, bootId, LockedError } from "../../modules/migration-state/lock";
import { readJournal } from "../../modules/migration-state/journal";
import { isRoot } from "../support/prerequisites";
import {
  FIXTURE_STACKS,
  rehearsalCli,
  SHORT_RUNBOOK,
  tempDir,
  writeRunbook,
} from "../migrate/support";

const note = { type: "note" as const, message: "x", at: 0 };

/** A file outside the state directory an attacker wants changed, with its content. */
function victim(): { file: string; content: string } {
  const file = join(tempDir("avfleet-victim-"), "authorized_keys");
  const content = "ssh-ed25519 AAAA… operator\n";
  writeFileSync(file, content);
  return { file, content };
}

test("a journal that is a symbolic link is refused, and the file it points at is untouched", async () => {
  const root = tempDir();
  const target = victim();
  mkdirSync(join(root, "us-west"), { mode: 0o700, recursive: true });
  symlinkSync(target.file, statePaths(join(root, "us-west")).journal);
  const backend = localBackend(root);
  const lease = await backend.acquire("us-west", thisHolder("alice"));
  try {
    await assert.rejects(backend.append(lease, 0, note), {
      name: "StateLinkError",
      message: `${join(root, "us-west", "journal.jsonl")}: (state file): is a symbolic link, expected a regular file; remove the link`,
    });
    await assert.rejects(backend.read("us-west"), { name: "StateLinkError" });
  } finally {
    await lease.release();
    await backend.close();
  }
  assert.equal(readFileSync(target.file, "utf8"), target.content);
});

test("an abort request is never written through a symbolic link", async () => {
  const root = tempDir();
  const target = victim();
  mkdirSync(join(root, "us-west"), { mode: 0o700 });
  symlinkSync(target.file, statePaths(join(root, "us-west")).abort);
  const backend = localBackend(root);
  await assert.rejects(backend.requestAbort("us-west", { by: "mallory", reason: "x" }), {
    name: "StateLinkError",
    message: /abort-requested: \(state file\): is a symbolic link/,
  });
  assert.equal(readFileSync(target.file, "utf8"), target.content);
});

test("state folders are made private, and a shared or foreign one is refused", async (t) => {
  const root = join(tempDir(), "state");
  const backend = localBackend(root);
  const lease = await backend.acquire("us-west/rehearsal", thisHolder("alice"));
  await backend.append(lease, 0, note);
  await lease.release();
  for (const dir of [root, join(root, "us-west"), join(root, "us-west", "rehearsal")]) {
    assert.equal(statSync(dir).mode & 0o777, 0o700, dir);
  }
  assert.equal(statSync(join(root, "us-west", "rehearsal", "journal.jsonl")).mode & 0o777, 0o600);

  chmodSync(join(root, "us-west"), 0o777);
  await assert.rejects(backend.acquire("us-west/rehearsal", thisHolder("alice")), {
    name: "InputError",
    message: `${join(root, "us-west")}: (state directory): is group- or world-writable (mode 777), expected a directory of your own that only you can write (mode 700); chmod 700 ${join(root, "us-west")}`,
  });
  await assert.rejects(backend.read("us-west/rehearsal"), { name: "InputError" });
  chmodSync(join(root, "us-west"), 0o700);
  assert.equal((await backend.read("us-west/rehearsal")).length, 1);

  if (!isRoot()) return t.skip("a foreign-owned folder needs root to make");
  chownSync(join(root, "us-west", "rehearsal"), 4242, 4242);
  await assert.rejects(backend.acquire("us-west/rehearsal", thisHolder("alice")), {
    name: "InputError",
    message: new RegExp(
      `^${join(root, "us-west", "rehearsal")}: \\(state directory\\): is owned by uid 4242, not by you \\(uid 0\\)`,
    ),
  });
});

test("migrate refuses a world-writable state directory and a linked journal with exit 2, doing nothing", () => {
  const checkout = tempDir();
  const state = join(checkout, "state");
  mkdirSync(state);
  chmodSync(state, 0o777);
  const runbook = writeRunbook(tempDir(), SHORT_RUNBOOK);
  const result = rehearsalCli(runbook, checkout, "run", ["--state", state]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /state directory\): is group- or world-writable \(mode 777\)/);
  assert.equal(existsSync(join(state, "us-west")), false, "no folder, lock or journal made");

  // A planted journal link: status says so and exits 2, reading nothing through it.
  chmodSync(state, 0o700);
  mkdirSync(join(state, "us-west", "rehearsal"), { recursive: true, mode: 0o700 });
  const world = join(checkout, "us-west", "rehearsal", "world.json");
  mkdirSync(dirname(world), { recursive: true });
  saveWorld(world, createWorld(loadRunbook(runbook, FIXTURE_STACKS), 1, []));
  const target = victim();
  symlinkSync(target.file, join(state, "us-west", "rehearsal", "journal.jsonl"));
  const status = rehearsalCli(runbook, checkout, "status", ["--state", state]);
  assert.equal(status.code, 2, status.stderr);
  assert.equal(
    status.stderr,
    `${join(state, "us-west", "rehearsal", "journal.jsonl")}: (state file): is a symbolic link, expected a regular file; remove the link\n`,
  );
});

test("a dead pid's lock is taken over only when it was taken on this host in this boot", () => {
  const file = join(tempDir(), "lock");
  const dead = () => false;
  const other = { pid: 100, since: 0, token: 1, by: "bob" };
  for (const [where, advice] of [
    [{ host: "build-7", bootId: bootId() }, "build-7"],
    [{ host: hostname(), bootId: "0d7c3f2e-previous-boot" }, "0d7c3f2e-previous-boot"],
  ] as const) {
    writeFileSync(file, JSON.stringify({ ...other, ...where }));
    assert.throws(
      () => acquireLock(file, { pid: 200, since: 0, token: 2 }, dead),
      (err: Error) => {
        assert.ok(err instanceof LockedError);
        assert.match(err.message, /held by bob \(executor pid 100 on /);
        assert.match(err.message, new RegExp(`the lock being from .*${advice}`));
        assert.match(
          err.message,
          new RegExp(`if that executor is gone, remove ${file} and run again$`),
        );
        return true;
      },
    );
    assert.equal(JSON.parse(readFileSync(file, "utf8")).token, 1, "the lock is left as it was");
  }
  writeFileSync(file, JSON.stringify({ ...other, host: hostname(), bootId: bootId() }));
  const taken = acquireLock(file, { pid: 200, since: 0, token: 2 }, dead);
  assert.equal(taken.takenFrom?.pid, 100);
  assert.deepEqual(
    { ...JSON.parse(readFileSync(file, "utf8")), since: 0 },
    { pid: 200, since: 0, token: 2, host: hostname(), bootId: bootId() },
  );
  taken.release();
});

test("a lock file that is a symbolic link is not read through", () => {
  const dir = tempDir();
  const fake = join(tempDir(), "fake-lock");
  writeFileSync(
    fake,
    JSON.stringify({ pid: process.pid, since: 0, host: hostname(), by: "mallory" }),
  );
  symlinkSync(fake, join(dir, "lock"));
  assert.throws(() => acquireLock(join(dir, "lock"), { pid: 1, since: 0 }, () => true), {
    name: "StateLinkError",
    message: /lock: \(state file\): is a symbolic link/,
  });
  assert.equal(readJournal(join(dir, "journal.jsonl")).length, 0);
});
