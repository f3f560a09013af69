/**
 * The bare-metal payload and the command that runs it, as a host runs them: an unprivileged
 * login with (and without) the one constant sudoers rule, and a root login; the payload on the
 * command's stdin (over a real sshd, from the project's copy through the rendered ssh_config and
 * a bastion), installed root-owned, checked by its sha256 and run, or the host's kept copy. Nothing outside the test
 * changes: a private mount namespace puts scratch directories over /usr/local/sbin,
 * /etc/sysctl.d, /etc/security/limits.d, /etc/systemd/system, /etc/sudoers.d, /var/lib/avfleet
 * and the user databases (the test user exists only there), and a network namespace named
 * metal-… takes the sysctls, nftables rules and the NIC.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { hostPayloadPart, renderTuning, sha256 } from "../../modules/tuning";
import {
  appliedSha,
  applyCommand,
  hostCommand,
  PAYLOAD_PATH,
  payloadFile,
  payloadLog,
  renderPayload,
  sudoersRule,
  type Payload,
} from "../../modules/host-payloads/metal-payload";
import { sshFiles } from "../../modules/host-payloads/metal-ssh";
import { storeIdentity, storeSshFiles } from "../../modules/host-payloads/payload-store";
import { isRoot, missingCommands, prerequisite } from "../support/prerequisites";
import { exampleFacts, matchSnapshot, table, vethHostFacts } from "../tuning/support";

const RULE =
  "avfleet ALL=(root) NOPASSWD: /usr/bin/install -D -o root -g root -m 0700 /dev/stdin /var/lib/avfleet/payload.sh, /usr/bin/sha256sum /var/lib/avfleet/payload.sh, /bin/sh /var/lib/avfleet/payload.sh";

test("sudoers rule: one constant line, every release and host class, exact arguments and no wildcard", () => {
  assert.equal(sudoersRule("avfleet"), RULE);
  assert.equal(sudoersRule("ops"), RULE.replace(/^avfleet /, "ops "));
  assert.doesNotMatch(RULE, /[*?[\]]/);
});

test("payload snapshot: a root script, the markers first, every file installed and checked, then its commands; named by its sha256", () => {
  const artifacts = renderTuning("media-udp", exampleFacts("metal-64"));
  const { text, sha } = renderPayload([hostPayloadPart(artifacts)]);
  assert.equal(sha, sha256(text));
  const lines = text.split("\n");
  assert.match(lines[0], new RegExp(`^# avfleet-tune 1 profile=media-udp hash=${artifacts.hash}$`));
  const start = lines.findIndex((l) => l.startsWith("base64 -d <<'AVFLEET_B64'"));
  const end = lines.indexOf("AVFLEET_B64");
  assert.equal(
    Buffer.from(lines.slice(start + 1, end).join(""), "base64").toString(),
    artifacts.script,
  );
  matchSnapshot(
    "metal-64.media-udp.payload.sh",
    [...lines.slice(0, start + 1), "<base64 of avfleet-tune>", ...lines.slice(end)].join("\n"),
  );
});

test("the host's command: install what comes on stdin, check it as root, else the kept copy, run it as root, print one line; sudo -n for a login, nothing for root", () => {
  const sha = "0123456789abcdef".repeat(4);
  const sudo = hostCommand("avfleet", sha);
  assert.equal(
    sudo,
    [
      `s=${sha} p=/var/lib/avfleet/payload.sh k=/var/lib/avfleet/kept/0123456789abcdef.sh l=.avfleet/log/0123456789abcdef.log`,
      "i(){ sudo -n /usr/bin/install -D -o root -g root -m 0700 /dev/stdin $p;}",
      'c(){ [ "$(sudo -n /usr/bin/sha256sum $p)" = "$s  $p" ];}',
      'i||{ echo "avfleet: could not install $p as root (sudo -n needs the rule pulumi stack output provisioning shows)">&2;exit 1;}',
      'c||{ [ -r $k ]&&i<$k&&c;}||{ echo "avfleet: $p is not $s, and no copy of it is kept on $(uname -n)">&2;exit 1;}',
      "mkdir -p ${l%/*};sudo -n /bin/sh $p >$l 2>&1||{ tail -n20 $l>&2;exit 1;}",
      "echo avfleet: ran 0123456789abcdef",
    ].join("\n"),
  );
  // Exactly what the rule names, each through sudo -n: nothing else runs as root.
  const rooted = [...sudo.matchAll(/(?:^|\$\(|\{ |;)sudo -n (\/\S+(?: \S+)*?) \$p/gm)];
  assert.deepEqual(
    rooted.map((m) => `${m[1]} ${PAYLOAD_PATH}`),
    RULE.split(": ")[1].split(", "),
  );
  assert.equal(
    hostCommand("root", sha),
    sudo
      .replace(" (sudo -n needs the rule pulumi stack output provisioning shows)", "")
      .replaceAll("sudo -n ", ""),
  );
});

test("the local command: ssh through the site's ssh_config, fed the project's copy (or nothing, for the kept one) or the inline drain request; the sha it applies reads back", () => {
  const sha = "0123456789abcdef".repeat(4);
  const target = { config: ".avfleet/ssh/metal-sjc/config", host: "sjc-m001" };
  const command = applyCommand(target, "avfleet", sha);
  assert.equal(
    command,
    `f=.avfleet/payloads/0123456789abcdef.sh;[ -f $f ]||f=/dev/null\nssh -F .avfleet/ssh/metal-sjc/config sjc-m001 '${hostCommand("avfleet", sha)}' <$f`,
  );
  assert.equal(appliedSha(command), sha);
  const drain = applyCommand(target, "avfleet", sha, "echo drain\n");
  assert.ok(drain.endsWith(`' <<'AVFLEET_PAYLOAD'\necho drain\nAVFLEET_PAYLOAD`), drain);
  assert.throws(() => applyCommand(target, "avfleet", sha, "AVFLEET_PAYLOAD\n"), /never holds/);
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
// runs there. /var/lib is a scratch directory with every entry of the machine's bound back
// into it but avfleet: what the payloads install there stays in the sandbox.
const ENTER = `set -e
d=$1; shift
for p in $HIDE; do mount --bind "$d/hidden" "$p"; done
for f in passwd group shadow; do mount --bind "$d/$f" "/etc/$f"; done
${Object.entries(SCRATCH)
  .map(([dir, path]) => `mount --bind "$d/${dir}" ${path}`)
  .join("\n")}
mount --bind /var/lib "$d/varlib-machine"
mount --bind "$d/varlib" /var/lib
for x in "$d/varlib-machine"/*; do
  n=\${x##*/}
  [ "$n" != avfleet ] || continue
  if [ -L "$x" ]; then ln -sfn "$(readlink "$x")" "/var/lib/$n"
  elif [ -d "$x" ]; then mkdir -p "/var/lib/$n"; mount --bind "$x" "/var/lib/$n"
  else : >>"/var/lib/$n"; mount --bind "$x" "/var/lib/$n"; fi
done
if [ -d /run/systemd ]; then mount --bind "$d/empty" /run/systemd; fi
exec ip netns exec ${NS} "$@"`;

class Sandbox {
  readonly dir = mkdtempSync(join(tmpdir(), "metal-payload-"));
  /** The login's home, and root's: where the command runs and the copies land. */
  readonly home = { user: join(this.dir, "home"), root: join(this.dir, "root-home") };

  constructor(rule?: string) {
    for (const sub of [...Object.keys(SCRATCH), "empty", "varlib", "varlib-machine"]) {
      mkdirSync(join(this.dir, sub));
    }
    for (const home of Object.values(this.home)) mkdirSync(home);
    // The login reaches its home, and sshd its authorized_keys, through the sandbox directory.
    chmodSync(this.dir, 0o755);
    chownSync(this.home.user, UID, UID);
    writeFileSync(join(this.dir, "hidden"), "", { mode: 0o644 });
    for (const f of ["passwd", "group", "shadow"]) copyFileSync(`/etc/${f}`, join(this.dir, f));
    appendFileSync(
      join(this.dir, "passwd"),
      `${USER}:x:${UID}:${UID}::${this.home.user}:/bin/sh\n`,
    );
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

  /** As sshd runs it: the login's shell with -c and the text, in the login's home; `stdin` a file. */
  command(as: "root" | "user", text: string, stdin = "/dev/null", hide: string[] = []) {
    const script = `cd ${this.home[as]}\n{\n${text}\n} <${stdin}`;
    return this.run(
      as === "root" ? ["sh", "-c", script] : ["runuser", "-u", USER, "--", "sh", "-c", script],
      hide,
    );
  }

  /** What the operator's project holds of a payload, readable by anyone (ssh feeds it). */
  project(sha: string, text: string): string {
    const file = join(this.dir, "project", payloadFile(sha));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text, { mode: 0o644 });
    return file;
  }

  log(as: "root" | "user", sha: string): string {
    return readFileSync(join(this.home[as], payloadLog(sha)), "utf8");
  }

  file(dir: keyof typeof SCRATCH | "varlib", name: string): string {
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

/** What the tuning's payload applied, read back as the payload's table says and from outside. */
function assertTuned(box: Sandbox, log: string, artifacts: ReturnType<typeof renderTuning>) {
  // The log has the payload's stderr between the table's rows: the rows are its 4-column lines.
  const applied = table(
    log
      .split("\n")
      .filter((line) => line.trim().split(/ {2,}/).length === 4)
      .join("\n"),
  );
  assert.ok(applied.size > 10, log);
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
  assert.equal(box.file("sbin", "avfleet-tune"), artifacts.script);
  assert.equal(box.file("sysctl", "90-avfleet-tune.conf"), artifacts.sysctl);
  assert.equal(inNs("cat /proc/sys/net/ipv4/udp_rmem_min").stdout.trim(), "16384");
  assert.match(inNs("nft list table inet avfleet_tune").stdout, /udp dport 40000-40999 notrack/);
}

test("as an unprivileged login under the exact rule: what comes on stdin is installed root-owned, checked and run, and keeps itself; what is not the payload is refused and nothing runs, unless the host kept the payload; without the rule it says what to grant and changes nothing", (t) => {
  if (!prerequisite(t, MISSING())) return;
  const artifacts = renderTuning("media-udp", facts);
  const payload = renderPayload([hostPayloadPart(artifacts)]);
  const command = hostCommand(USER, payload.sha);
  const short = payload.sha.slice(0, 16);
  withNetns(() => {
    const denied = new Sandbox();
    try {
      const run = denied.command("user", command, denied.project(payload.sha, payload.text));
      assert.equal(run.status, 1, run.stdout + run.stderr);
      assert.equal(
        run.stderr.split("\n").at(-2),
        `avfleet: could not install ${PAYLOAD_PATH} as root (sudo -n needs the rule pulumi stack output provisioning shows)`,
      );
      assert.equal(run.stdout, "");
      assert.deepEqual(readdirSync(join(denied.dir, "varlib")).includes("avfleet"), false);
      assert.deepEqual(readdirSync(join(denied.dir, "sbin")), [], "nothing installed");
      assert.equal(inNs("nft list table inet avfleet_tune").status, 1, "no rule loaded");
      // A minimal Debian has no sudo at all.
      const bare = denied.command("user", command, "/dev/null", [programPath("sudo")]);
      assert.equal(bare.status, 1, bare.stdout + bare.stderr);
      assert.match(bare.stderr, /^avfleet: could not install /m);
    } finally {
      denied.remove();
    }

    const granted = new Sandbox(sudoersRule(USER));
    try {
      // Not the payload of its sha (a stale or tampered project copy): a payload that would mark the machine.
      const swapped = granted.project(payload.sha, `${payload.text}: >/etc/sudoers.d/swapped\n`);
      const refused = granted.command("user", command, swapped);
      assert.equal(refused.status, 1, refused.stdout + refused.stderr);
      assert.match(
        refused.stderr,
        new RegExp(
          `^avfleet: ${PAYLOAD_PATH} is not ${payload.sha}, and no copy of it is kept on \\S+\n$`,
        ),
      );
      assert.deepEqual(readdirSync(join(granted.dir, "sudoers")), ["avfleet"], "it never ran");
      assert.deepEqual(readdirSync(join(granted.dir, "sbin")), []);

      const run = granted.command("user", command, granted.project(payload.sha, payload.text));
      assert.equal(run.status, 0, run.stdout + run.stderr);
      assert.equal(run.stdout, `avfleet: ran ${short}\n`, "one line");
      assert.equal(run.stderr, "");
      assertTuned(granted, granted.log("user", payload.sha), artifacts);
      // What ran is root's copy: root's, unwritable by the login, byte for byte the payload.
      const installed = statSync(join(granted.dir, "varlib/avfleet/payload.sh"));
      assert.deepEqual([installed.uid, installed.gid, installed.mode & 0o777], [0, 0, 0o700]);
      const dir = statSync(join(granted.dir, "varlib/avfleet"));
      assert.deepEqual([dir.uid, dir.mode & 0o022], [0, 0]);
      assert.equal(granted.file("varlib", "avfleet/payload.sh"), payload.text);
      // It kept itself: root's, readable, unwritable by the login.
      assert.equal(granted.file("varlib", `avfleet/kept/${short}.sh`), payload.text);
      const kept = statSync(join(granted.dir, `varlib/avfleet/kept/${short}.sh`));
      assert.deepEqual([kept.uid, kept.mode & 0o777], [0, 0o644]);
      const verify = granted.run(["/usr/local/sbin/avfleet-tune", "verify"]);
      assert.equal(verify.status, 0, verify.stdout + verify.stderr);
      assert.match(verify.stderr, /avfleet-tune verify: no drift/);
      // A rollback from a machine without the project's copy: the host's kept one runs.
      const kept2 = granted.command("user", command);
      assert.equal(kept2.status, 0, kept2.stdout + kept2.stderr);
      assert.equal(kept2.stdout, `avfleet: ran ${short}\n`);
      // Even fed something else, the payload of its sha is what runs.
      const fed = granted.command("user", command, swapped);
      assert.equal(fed.status, 0, fed.stdout + fed.stderr);
      assert.deepEqual(
        readdirSync(join(granted.dir, "sudoers")),
        ["avfleet"],
        "the swap never ran",
      );
    } finally {
      granted.remove();
    }
  });
});

test("a root login runs the same steps without sudo; a drain request travels in the command itself", (t) => {
  if (!prerequisite(t, MISSING())) return;
  const artifacts = renderTuning("media-udp", facts);
  const payload = renderPayload([hostPayloadPart(artifacts)]);
  withNetns(() => {
    const box = new Sandbox();
    try {
      const run = box.command(
        "root",
        hostCommand("root", payload.sha),
        box.project(payload.sha, payload.text),
      );
      assert.equal(run.status, 0, run.stdout + run.stderr);
      assert.equal(run.stdout, `avfleet: ran ${payload.sha.slice(0, 16)}\n`);
      assertTuned(box, box.log("root", payload.sha), artifacts);

      const drain = renderPayload([
        {
          header: ["# a drain request"],
          files: [{ path: "/var/lib/avfleet/drain-requested", mode: "0644", content: "x\n" }],
          commands: [],
        },
      ]);
      const request = box.project(drain.sha, drain.text);
      const drained = box.command("user", hostCommand(USER, drain.sha), request);
      assert.equal(drained.status, 1, "a login without the rule may not");
      const rooted = box.command("root", hostCommand("root", drain.sha), request);
      assert.equal(rooted.status, 0, rooted.stdout + rooted.stderr);
      assert.equal(box.file("varlib", "avfleet/drain-requested"), "x\n");
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
  const { text } = renderPayload([hostPayloadPart(artifacts)]);
  const nft = programPath("nft");
  withNetns(() => {
    // nft hidden but its package installed: apt-get has nothing to do, and nft stays missing.
    const box = new Sandbox();
    try {
      const run = box.command("root", text, "/dev/null", [nft]);
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
      const run = bare.command("root", text, "/dev/null", [nft, programPath("apt-get")]);
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

// A real sshd in the netns (any port is free there), the site's bastion and its host at once;
// the host's command runs in the project directory as local.Command runs it (/bin/sh -c).
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
cd "$d/project"
/bin/sh -c "$2"
rc=$?
# The bastion's master connection (ControlPersist) and this sshd go before the next run.
ssh -F "$3" -O exit avfleet-bastion 2>/dev/null
kill $pid
wait $pid
exit $rc`;

function keygen(file: string, comment: string): string {
  const run = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
  assert.equal(run.status, 0, String(run.stderr));
  return readFileSync(`${file}.pub`, "utf8").trim();
}

test("over a real sshd, as pulumi up runs a host's command: ssh through the rendered ssh_config and the bastion, the project's payload installed, checked and run; another key pinned for the host, nothing runs", (t) => {
  if (!prerequisite(t, MISSING() ?? missingCommands("sshd", "ssh", "ssh-keygen"))) return;
  const artifacts = renderTuning("media-udp", facts);
  const payload: Payload = renderPayload([hostPayloadPart(artifacts)]);
  const stack = "metal-box";
  withNetns(() => {
    const box = new Sandbox(sudoersRule(USER));
    try {
      const ssh = join(box.dir, "ssh");
      mkdirSync(ssh);
      const project = join(box.dir, "project");
      box.project(payload.sha, payload.text);
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
      const spec = {
        user: USER,
        port: 2222,
        agent: false,
        bastion: { host: "127.0.0.1", port: 2222, user: USER, hostKey },
      };
      const host = (key: string, name = "box-m001") => ({
        name,
        publicIp: "192.0.2.1",
        privateIp: "127.0.0.1",
        rack: "r1",
        class: "c",
        state: "active" as const,
        hostKey: key,
      });
      // Eight names for the one sshd: eight hosts behind the bastion, each pinned under its name.
      const names = Array.from({ length: 8 }, (_, i) => `box-m00${i + 1}`);
      const hosts = (key: string) => [host(key), ...names.slice(1).map((n) => host(hostKey, n))];
      const paths = storeSshFiles(stack, sshFiles(stack, spec, hosts(hostKey)), project);
      storeIdentity(stack, readFileSync(join(ssh, "client"), "utf8"), project);
      assert.equal(paths.master, `.avfleet/ssh/${stack}/master`);
      const command = applyCommand({ ...paths, host: "box-m001" }, USER, payload.sha);
      const over = (text = command) =>
        box.run(["sh", "-c", OVER_SSH, "sh", box.dir, text, paths.config]);

      // The bastion is who it says; the host is not.
      const impostor = keygen(join(ssh, "impostor"), "root@metal-box");
      storeSshFiles(stack, sshFiles(stack, spec, hosts(impostor)), project);
      const refused = over();
      assert.equal(refused.status, 255, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /Host key verification failed/);
      assert.match(refused.stderr, /box-m001/, "the alias the host key is pinned under");
      assert.deepEqual(readdirSync(join(box.dir, "sbin")), [], "nothing ran on the host");

      storeSshFiles(stack, sshFiles(stack, spec, hosts(hostKey)), project);
      const run = over();
      assert.equal(run.status, 0, run.stdout + run.stderr);
      assert.equal(run.stdout, `avfleet: ran ${payload.sha.slice(0, 16)}\n`);
      assertTuned(box, box.log("user", payload.sha), artifacts);

      // Eight hosts' commands at once, as pulumi up --parallel starts them: one of them opens
      // the bastion's master, the others wait for it; the bastion authenticates once. A lock
      // left by a killed run (its opener's pid gone) is taken over.
      const lock = join(project, `.avfleet/ssh/${stack}/master.${process.getuid!()}.lock`);
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), "2147483646\n");
      const accepted = () =>
        readFileSync(join(ssh, "log"), "utf8").match(/Accepted publickey/g)?.length ?? 0;
      const parallel = over(
        [
          "p=",
          ...names.map((n) => `(sh ${paths.master}&&ssh -F ${paths.config} ${n} true) & p="$p $!"`),
          "s=0; for j in $p; do wait $j || s=1; done; exit $s",
        ].join("\n"),
      );
      assert.equal(parallel.status, 0, parallel.stdout + parallel.stderr);
      assert.equal(accepted(), 1 + names.length, readFileSync(join(ssh, "log"), "utf8"));
    } finally {
      box.remove();
    }
  });
});
