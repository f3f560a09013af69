/**
 * The bare-metal payload as a host runs it: an unprivileged login with (and without) the
 * sudoers rule, and a root login. Nothing outside the test changes: a private mount
 * namespace puts scratch directories over /usr/local/sbin, /etc/sysctl.d,
 * /etc/security/limits.d, /etc/systemd/system, /etc/sudoers.d and the user databases (the
 * test user exists only there), and a network namespace named metal-… takes the sysctls,
 * nftables rules and the NIC.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostPayloadPart, renderTuning, sha256 } from "../../modules/tuning";
import { renderPayload, sudoersRule, SUDOERS_FILE } from "../../modules/fleets/metal-payload";
import { isRoot, missingCommands, prerequisite } from "../support/prerequisites";
import { exampleFacts, matchSnapshot, table, vethHostFacts } from "../tuning/support";

const RULE_SJC =
  "avfleet ALL=(root) NOPASSWD: /usr/bin/install -D -m 0755 /dev/stdin /usr/local/sbin/avfleet-tune, /usr/local/sbin/avfleet-tune provision";

test("sudoers rule: the exact install and command lines, nothing else; an unsafe word is refused", () => {
  const part = hostPayloadPart(renderTuning("media-udp", exampleFacts("metal-64")));
  assert.equal(sudoersRule("avfleet", [part]), RULE_SJC);
  const agent = {
    header: [],
    files: [{ path: "/etc/systemd/system/avfleet-agent.service", mode: "0644", content: "x\n" }],
    commands: [["/usr/bin/systemctl", "enable", "--now", "avfleet-agent.service"]],
  };
  assert.equal(
    sudoersRule("ops", [part, agent]),
    "ops ALL=(root) NOPASSWD: /usr/bin/install -D -m 0755 /dev/stdin /usr/local/sbin/avfleet-tune, " +
      "/usr/bin/install -D -m 0644 /dev/stdin /etc/systemd/system/avfleet-agent.service, " +
      "/usr/local/sbin/avfleet-tune provision, /usr/bin/systemctl enable --now avfleet-agent.service",
  );
  for (const argv of [
    ["/bin/echo", "two words"],
    ["/usr/bin/env", "A=B"],
    ["/bin/cat", "/etc/*"],
    ["cat"],
  ]) {
    assert.throws(
      () => sudoersRule("ops", [{ header: [], files: [], commands: [argv] }]),
      argv.join(" "),
    );
  }
});

test("payload snapshots (sudo, root): the marker first, every step checked before it runs; the script byte for byte", () => {
  const artifacts = renderTuning("media-udp", exampleFacts("metal-64"));
  for (const user of ["avfleet", "root"]) {
    const { create, hash } = renderPayload(user, [hostPayloadPart(artifacts)]);
    assert.equal(hash, sha256(create));
    const lines = create.split("\n");
    assert.match(
      lines[0],
      new RegExp(`^# avfleet-tune 1 profile=media-udp hash=${artifacts.hash}$`),
    );
    const start = lines.findIndex((l) => l.startsWith("base64 -d <<'AVFLEET_B64'"));
    const end = lines.indexOf("AVFLEET_B64");
    assert.equal(
      Buffer.from(lines.slice(start + 1, end).join(""), "base64").toString(),
      artifacts.script,
    );
    matchSnapshot(
      `metal-64.media-udp.payload.${user}.sh`,
      [...lines.slice(0, start + 1), "<base64 of avfleet-tune>", ...lines.slice(end)].join("\n"),
    );
  }
  assert.notEqual(
    renderPayload("avfleet", [hostPayloadPart(artifacts)]).hash,
    renderPayload("ops", [hostPayloadPart(artifacts)]).hash,
    "another login re-runs the payload",
  );
});

const NS = `metal-payload-${process.pid}`;
const USER = `metal-u${process.pid}`;
const UID = 40000 + (process.pid % 20000);

const facts = vethHostFacts(["mpt0"]);

/** Scratch directory → the path it stands in for inside the sandbox. */
const SCRATCH = {
  sbin: "/usr/local/sbin",
  sysctl: "/etc/sysctl.d",
  limits: "/etc/security/limits.d",
  units: "/etc/systemd/system",
  sudoers: "/etc/sudoers.d",
} as const;

// Binds the scratch tree, hides a running systemd (units are checked only on a live one) and
// the programs in $HIDE (a non-executable empty file over each), and enters the netns; "$@"
// runs there.
const ENTER = `set -e
d=$1; shift
for p in $HIDE; do mount --bind "$d/hidden" "$p"; done
for f in passwd group shadow; do mount --bind "$d/$f" "/etc/$f"; done
${Object.entries(SCRATCH)
  .map(([dir, path]) => `mount --bind "$d/${dir}" ${path}`)
  .join("\n")}
if [ -d /run/systemd ]; then mount --bind "$d/empty" /run/systemd; fi
exec ip netns exec ${NS} "$@"`;

class Sandbox {
  readonly dir = mkdtempSync(join(tmpdir(), "metal-payload-"));

  constructor(rule?: string) {
    for (const sub of [...Object.keys(SCRATCH), "empty"]) mkdirSync(join(this.dir, sub));
    writeFileSync(join(this.dir, "hidden"), "", { mode: 0o644 });
    for (const f of ["passwd", "group", "shadow"]) copyFileSync(`/etc/${f}`, join(this.dir, f));
    appendFileSync(join(this.dir, "passwd"), `${USER}:x:${UID}:${UID}::/nonexistent:/bin/sh\n`);
    appendFileSync(join(this.dir, "group"), `${USER}:x:${UID}:\n`);
    // "*", not "!": sshd without PAM refuses even a key login to a locked ("!") account.
    appendFileSync(join(this.dir, "shadow"), `${USER}:*:20000::::::\n`);
    if (rule) {
      const file = join(this.dir, "sudoers", "avfleet");
      writeFileSync(file, `${rule}\n`, { mode: 0o440 });
      const check = spawnSync("visudo", ["-c", "-f", file], { encoding: "utf8" });
      assert.equal(
        check.status,
        0,
        `visudo rejects the rendered rule: ${check.stdout}${check.stderr}`,
      );
    }
  }

  run(argv: string[], hide: string[] = []) {
    return spawnSync(
      "unshare",
      ["--mount", "--propagation", "private", "sh", "-c", ENTER, "sh", this.dir, ...argv],
      { encoding: "utf8", env: { ...process.env, HIDE: hide.join(" ") } },
    );
  }

  /** As remote.Command runs it: the login's shell with -c and the payload text. */
  payload(as: "root" | "user", create: string, hide: string[] = []) {
    return this.run(
      as === "root" ? ["sh", "-c", create] : ["runuser", "-u", USER, "--", "sh", "-c", create],
      hide,
    );
  }

  file(dir: keyof typeof SCRATCH, name: string): string {
    return readFileSync(join(this.dir, dir, name), "utf8");
  }

  remove() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function inNs(command: string) {
  return spawnSync("ip", ["netns", "exec", NS, "sh", "-c", command], { encoding: "utf8" });
}

function withNetns(body: () => void) {
  const created = spawnSync("ip", ["netns", "add", NS], { encoding: "utf8" });
  assert.equal(created.status, 0, created.stderr);
  try {
    assert.equal(inNs("ip link add mpt0 type veth peer name mpt1").status, 0);
    body();
  } finally {
    spawnSync("ip", ["netns", "del", NS]);
  }
}

const MISSING = () =>
  !isRoot()
    ? "root"
    : missingCommands(
        "ip",
        "unshare",
        "runuser",
        "sudo",
        "visudo",
        "nft",
        "ethtool",
        "base64",
        "sha256sum",
      );

test("payload as an unprivileged login: with the sudoers rule it installs, applies and reads back the tuning; without it, it says what to grant and changes nothing", (t) => {
  if (!prerequisite(t, MISSING())) return;
  const artifacts = renderTuning("media-udp", facts);
  const parts = [hostPayloadPart(artifacts)];
  const { create } = renderPayload(USER, parts);
  const rule = sudoersRule(USER, parts);
  withNetns(() => {
    const denied = new Sandbox();
    try {
      const run = denied.payload("user", create);
      assert.equal(run.status, 1, run.stdout + run.stderr);
      assert.equal(
        run.stderr.trim().replace(/^avfleet payload on \S+ as /, ""),
        `${USER}: may not run '/usr/bin/install -D -m 0755 /dev/stdin /usr/local/sbin/avfleet-tune' as root without a password: ` +
          `grant exactly this rule in ${SUDOERS_FILE} (visudo -f ${SUDOERS_FILE}): ${rule} - or log in as root (ssh.user: root)`,
      );
      assert.deepEqual(readdirSync(join(denied.dir, "sbin")), [], "nothing installed");
      assert.deepEqual(readdirSync(join(denied.dir, "sysctl")), []);
      assert.equal(inNs("nft list table inet avfleet_tune").status, 1, "no rule loaded");
      // A minimal Debian has no sudo at all.
      const bare = denied.payload("user", create, [programPath("sudo")]);
      assert.equal(bare.status, 1, bare.stdout + bare.stderr);
      assert.equal(
        bare.stderr.trim().replace(/^avfleet payload on \S+ as /, ""),
        `${USER}: sudo is not installed: install it and ` +
          `grant exactly this rule in ${SUDOERS_FILE} (visudo -f ${SUDOERS_FILE}): ${rule} - or log in as root (ssh.user: root)`,
      );
      assert.deepEqual(readdirSync(join(denied.dir, "sbin")), []);
    } finally {
      denied.remove();
    }

    const granted = new Sandbox(rule);
    try {
      const run = granted.payload("user", create);
      assert.equal(run.status, 0, run.stdout + run.stderr);
      const applied = table(run.stdout);
      assert.deepEqual(applied.get("sysctl net.ipv4.udp_rmem_min"), {
        wanted: "16384",
        actual: "16384",
        status: "ok",
      });
      assert.deepEqual(applied.get("conntrack notrack udp"), {
        wanted: "40000-40999",
        actual: "40000-40999",
        status: "ok",
      });
      assert.equal(applied.get("file /etc/sysctl.d/90-avfleet-tune.conf")?.status, "ok");
      assert.equal(applied.get("mpt0 rx-0 rps_cpus")?.status, "ok");
      // Read back from outside the payload: what landed is what was rendered.
      assert.equal(granted.file("sbin", "avfleet-tune"), artifacts.script);
      assert.equal(granted.file("sysctl", "90-avfleet-tune.conf"), artifacts.sysctl);
      assert.equal(inNs("cat /proc/sys/net/ipv4/udp_rmem_min").stdout.trim(), "16384");
      assert.match(
        inNs("nft list table inet avfleet_tune").stdout,
        /udp dport 40000-40999 notrack/,
      );
      const verify = granted.run(["/usr/local/sbin/avfleet-tune", "verify"]);
      assert.equal(verify.status, 0, verify.stdout + verify.stderr);
      assert.match(verify.stderr, /avfleet-tune verify: no drift/);
      // Run again: the same payload converges.
      const again = granted.payload("user", create);
      assert.equal(again.status, 0, again.stdout + again.stderr);
    } finally {
      granted.remove();
    }
  });
});

test("payload for a root login: applies as root; run by anyone else, it says it needs root and changes nothing", (t) => {
  if (!prerequisite(t, MISSING())) return;
  const artifacts = renderTuning("media-udp", facts);
  const { create } = renderPayload("root", [hostPayloadPart(artifacts)]);
  withNetns(() => {
    const box = new Sandbox();
    try {
      const refused = box.payload("user", create);
      assert.equal(refused.status, 1, refused.stdout + refused.stderr);
      assert.match(
        refused.stderr,
        new RegExp(
          `^avfleet payload on \\S+ as ${USER}: needs a root login \\(ssh.user: root\\) but runs as uid ${UID}:`,
        ),
      );
      assert.deepEqual(readdirSync(join(box.dir, "sbin")), []);

      const run = box.payload("root", create);
      assert.equal(run.status, 0, run.stdout + run.stderr);
      assert.equal(table(run.stdout).get("sysctl net.ipv4.udp_rmem_min")?.status, "ok");
      assert.equal(box.file("sbin", "avfleet-tune"), artifacts.script);
    } finally {
      box.remove();
    }
  });
});

/** Where a program really is (PATH lookup, symlinks resolved), to hide it in the sandbox. */
function programPath(name: string): string {
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  return realpathSync(found.stdout.trim());
}

test("provision: a missing tool goes to apt-get; still missing after it, or with no apt-get, it names the package, exits 3 and applies nothing", (t) => {
  if (!prerequisite(t, MISSING() ?? missingCommands("apt-get"))) return;
  const artifacts = renderTuning("media-udp", facts);
  const { create } = renderPayload("root", [hostPayloadPart(artifacts)]);
  const nft = programPath("nft");
  withNetns(() => {
    // nft hidden but its package installed: apt-get has nothing to do, and nft stays missing.
    const box = new Sandbox();
    try {
      const run = box.payload("root", create, [nft]);
      assert.equal(run.status, 3, run.stdout + run.stderr);
      assert.match(run.stderr, /^avfleet-tune provision: installing nftables$/m);
      assert.match(
        run.stderr,
        /^avfleet-tune provision: still missing after apt-get install: nftables$/m,
      );
      assert.equal(run.stdout, "", "no setting applied");
      assert.deepEqual(readdirSync(join(box.dir, "sysctl")), []);
    } finally {
      box.remove();
    }
    const bare = new Sandbox();
    try {
      const run = bare.payload("root", create, [nft, programPath("apt-get")]);
      assert.equal(run.status, 3, run.stdout + run.stderr);
      assert.equal(
        run.stderr.trim(),
        "avfleet-tune provision: missing packages: nftables; no apt-get here: install them with this distribution's package manager (dnf, zypper and apk name them the same)",
      );
    } finally {
      bare.remove();
    }
  });
});

// A real sshd in the netns (any port is free there), and the operator's ssh pinned to one key.
const OVER_SSH = `set -e
d=$1
ip link set lo up
mkdir -p /run/sshd
# Emptied here, not by the background job's own redirection: that one may come after the wait
# below has read the last run's "Server listening" and let ssh connect to no one.
: >"$d/ssh/log"
/usr/sbin/sshd -D -e -f "$d/ssh/sshd_config" 2>>"$d/ssh/log" &
pid=$!
i=0
until grep -q "Server listening" "$d/ssh/log"; do
  i=$((i + 1)); [ $i -lt 100 ] || { cat "$d/ssh/log" >&2; kill $pid; exit 9; }
  sleep 0.1
done
set +e
ssh -F none -i "$d/ssh/client" -o UserKnownHostsFile="$d/ssh/known_hosts" -o StrictHostKeyChecking=yes \
  -o BatchMode=yes -p 2222 "$2@127.0.0.1" "$3"
rc=$?
# The next run listens on the same port: this sshd must be gone first.
kill $pid
wait $pid
exit $rc`;

function keygen(file: string, comment: string): string {
  const run = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
  assert.equal(run.status, 0, String(run.stderr));
  return readFileSync(`${file}.pub`, "utf8").trim();
}

test("over a real sshd, as remote.Command runs it (the login shell with -c): pinned to the inventory-format host key it provisions; pinned to another key it never starts", (t) => {
  if (!prerequisite(t, MISSING() ?? missingCommands("sshd", "ssh", "ssh-keygen"))) return;
  const artifacts = renderTuning("media-udp", facts);
  const parts = [hostPayloadPart(artifacts)];
  const { create } = renderPayload(USER, parts);
  withNetns(() => {
    const box = new Sandbox(sudoersRule(USER, parts));
    try {
      const ssh = join(box.dir, "ssh");
      mkdirSync(ssh);
      // The login reads its authorized_keys through the sandbox directory.
      chmodSync(box.dir, 0o755);
      // What the inventory holds: the host's public key line, as its .pub file has it.
      const hostKey = keygen(join(ssh, "host"), "root@metal-box");
      const operatorKey = keygen(join(ssh, "client"), "avfleet-operator");
      writeFileSync(join(ssh, "authorized_keys"), `${operatorKey}\n`, { mode: 0o644 });
      writeFileSync(
        join(ssh, "sshd_config"),
        [
          "ListenAddress 127.0.0.1:2222",
          `HostKey ${join(ssh, "host")}`,
          "PidFile none",
          "UsePAM no",
          "StrictModes no",
          `AuthorizedKeysFile ${join(ssh, "authorized_keys")}`,
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "",
        ].join("\n"),
      );
      const pinned = (key: string) =>
        writeFileSync(join(ssh, "known_hosts"), `[127.0.0.1]:2222 ${key}\n`);

      pinned(keygen(join(ssh, "impostor"), "root@metal-box"));
      const refused = box.run(["sh", "-c", OVER_SSH, "sh", box.dir, USER, create]);
      assert.equal(refused.status, 255, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /Host key verification failed/);
      assert.deepEqual(readdirSync(join(box.dir, "sbin")), [], "nothing ran on the host");

      pinned(hostKey);
      const run = box.run(["sh", "-c", OVER_SSH, "sh", box.dir, USER, create]);
      assert.equal(run.status, 0, run.stdout + run.stderr);
      assert.deepEqual(table(run.stdout).get("sysctl net.ipv4.udp_rmem_min"), {
        wanted: "16384",
        actual: "16384",
        status: "ok",
      });
      assert.equal(box.file("sbin", "avfleet-tune"), artifacts.script);
      assert.match(
        inNs("nft list table inet avfleet_tune").stdout,
        /udp dport 40000-40999 notrack/,
      );
    } finally {
      box.remove();
    }
  });
});
