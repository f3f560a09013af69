/**
 * A bare-metal host's payloads and the small command that runs one. A payload (a host class's
 * tuning and bootstrap, or a drain request) is one root script: parts (the tuning, the host
 * bootstrap) each bring files and commands, and the script installs every file and runs every
 * command. A host's local.Command pipes its class's payload, kept in the project under its
 * sha256, through the operator's ssh (metal-ssh.ts) straight into a root-owned file at
 * PAYLOAD_PATH, checks its sha256 there and runs it as root: through `sudo -n` under one constant
 * rule (sudoersRule), or directly for a root login. The login never holds a copy that root then
 * runs, so it cannot swap one in between. Each payload keeps itself on the host (KEPT_DIR), so a
 * rollback finds the earlier one there when the operator's project no longer has it.
 */
import { sha256, shellQuote } from "../tuning";
import { STATE_DIR } from "../host/units";

export interface PayloadFile {
  /** Absolute path on the host. */
  path: string;
  /** Octal mode, e.g. 0755. */
  mode: string;
  content: string;
}

/** What one concern puts on a host. */
export interface PayloadPart {
  /** Comment lines at the top of the payload (markers that policies read). */
  header: string[];
  /** Installed as root, in order, before any command runs. */
  files: PayloadFile[];
  /** Each command's argv (absolute program path), run as root after every file is installed. */
  commands: string[][];
}

/** A rendered payload: the script, and its sha256, by which hosts and the state know it. */
export interface Payload {
  text: string;
  sha: string;
}

/** How the command becomes root: a root login, or sudo -n for any other user. */
export type Privilege = "root" | "sudo";

export function privilegeOf(user: string): Privilege {
  return user === "root" ? "root" : "sudo";
}

/** Where the command installs the payload it runs: root's directory, never the login's. */
export const PAYLOAD_PATH = "/var/lib/avfleet/payload.sh";
const INSTALL = ["/usr/bin/install", "-D", "-o", "root", "-g", "root", "-m", "0700", "/dev/stdin"];
const CHECK = "/usr/bin/sha256sum";
const RUN = "/bin/sh";
/** Root-owned, world-readable: the login reads a kept payload only to hand it back to install. */
const KEPT_DIR = "/var/lib/avfleet/kept";
/** How many payloads a host keeps, newest first: a rollback goes back one or two. */
const KEPT = 8;
const B64_END = "AVFLEET_B64";
const INLINE_END = "AVFLEET_PAYLOAD";

/**
 * The one sudoers line a non-root login needs, the same for every release and host class:
 * install a payload root-owned, read its sha256, run it. Whoever may install what root runs is
 * root in effect: the rule keeps the login from doing anything else by mistake and makes the
 * grant auditable; it does not make a stolen key harmless. Each command carries its whole argv:
 * sudoers matches arguments as shell wildcards (or a regex after ^) and lets a command listed
 * without arguments run with any (sudoers(5) Cmnd_List, https://www.sudo.ws/docs/man/sudoers.man/),
 * so none of them may hold a wildcard character. `avfleet sudoers <stack>` prints it.
 */
export function sudoersRule(user: string): string {
  const commands = [
    [...INSTALL, PAYLOAD_PATH],
    [CHECK, PAYLOAD_PATH],
    [RUN, PAYLOAD_PATH],
  ];
  return `${user} ALL=(root) NOPASSWD: ${commands.map((argv) => argv.join(" ")).join(", ")}`;
}

/**
 * Where a payload is kept, by (16 hex digits of) its sha256: in the project on the operator's
 * side (relative, so a host's command reads the same on every teammate's machine) and in
 * KEPT_DIR on the host. The command checks the whole sha256 before it runs one.
 */
export function payloadFile(sha: string): string {
  return `.avfleet/payloads/${sha.slice(0, 16)}.sh`;
}

function quoted(argv: string[]): string {
  return argv.map(shellQuote).join(" ");
}

function installLines(file: PayloadFile): string[] {
  const encoded = Buffer.from(file.content)
    .toString("base64")
    .replace(/(.{76})/g, "$1\n");
  const path = shellQuote(file.path);
  return [
    `base64 -d <<'${B64_END}' | ${quoted(["/usr/bin/install", "-D", "-m", file.mode, "/dev/stdin", file.path])}`,
    encoded.trimEnd(),
    B64_END,
    // A full disk would leave a partial file: compare what landed.
    `if [ -r ${path} ] && ! printf '%s  %s\\n' ${sha256(file.content)} ${path} | sha256sum -c --status -; then`,
    `  fail "installed ${file.path} differs from the rendered file"`,
    "fi",
  ];
}

/**
 * Pure. The root script: every file installed and checked, then every command run. A class's
 * payload (`release`) first records itself as the host's release, the first 12 hex of its
 * sha256 (what a rollout's reads call it): the agent the bootstrap restarts labels its series
 * with it. A drain request leaves it as it is.
 */
export function renderPayload(
  parts: readonly PayloadPart[],
  options: { release?: boolean } = {},
): Payload {
  const text = [
    // Parts may carry the same marker (the tuning's is the bootstrap's too): once each.
    ...new Set(parts.flatMap((p) => p.header)),
    `# avfleet bare-metal payload: runs as root from ${PAYLOAD_PATH} (docs/reference/bare-metal.md).`,
    "set -eu",
    "fail() {",
    `  printf 'avfleet payload on %s: %s\\n' "$(uname -n)" "$1" >&2`,
    "  exit 1",
    "}",
    `[ "$(id -u)" -eq 0 ] || fail "runs as uid $(id -u), not root: its command runs it as root"`,
    ...parts.flatMap((p) => p.files).flatMap(installLines),
    ...(options.release
      ? [`install -d -m 0755 ${STATE_DIR}`, `sha256sum <"$0" | cut -c1-12 >${STATE_DIR}/release`]
      : []),
    ...parts.flatMap((p) => p.commands).map(quoted),
    // Last, so only a payload that ran to the end is kept for a rollback.
    `k=${KEPT_DIR}; install -d -m 0755 $k`,
    `install -m 0644 "$0" "$k/$(sha256sum <"$0" | cut -c1-16).sh"`,
    // Newest first by mtime, which only ls gives POSIX sh; the names are hex digits.
    "# shellcheck disable=SC2012",
    `ls -1t $k/*.sh | tail -n +${KEPT + 1} | xargs -r rm -f --`,
    "",
  ].join("\n");
  return { text, sha: sha256(text) };
}

/** The payload sha a command of applyCommand's applies. */
export function appliedSha(create: string): string | undefined {
  return /'s=([0-9a-f]{64}) /.exec(create)?.[1];
}

/** Which host a command reaches, and through which rendered ssh_config (metal-ssh.ts). */
export interface SshTarget {
  config: string;
  host: string;
  /** The script that opens the bastion's master connection first, when the site has one. */
  master?: string;
}

/** Where the login's shell keeps a payload's output, relative to its home. */
export function payloadLog(sha: string): string {
  return `.avfleet/log/${sha.slice(0, 16)}.log`;
}

/**
 * Pure. What runs on the host, in the login's home, with the payload of `sha` on its stdin:
 * install it root-owned, check its sha256 as root (or install the host's kept copy when what came
 * is not it: a rollback run where the project no longer has the payload), run it as root. The
 * payload's output goes to payloadLog; the command prints one line, or the log's end when the
 * payload fails.
 */
export function hostCommand(user: string, sha: string): string {
  const sudo = privilegeOf(user) === "root" ? "" : "sudo -n ";
  const short = sha.slice(0, 16);
  // A login without the rule (or without sudo) stops here, having changed nothing.
  const refused = `could not install $p as root${sudo ? " (sudo -n needs the rule pulumi stack output provisioning shows)" : ""}`;
  return [
    `s=${sha} p=${PAYLOAD_PATH} k=${KEPT_DIR}/${short}.sh l=${payloadLog(sha)}`,
    `i(){ ${sudo}${INSTALL.join(" ")} $p;}`,
    `c(){ [ "$(${sudo}${CHECK} $p)" = "$s  $p" ];}`,
    `i||{ echo "avfleet: ${refused}">&2;exit 1;}`,
    `c||{ [ -r $k ]&&i<$k&&c;}||{ echo "avfleet: $p is not $s, and no copy of it is kept on $(uname -n)">&2;exit 1;}`,
    `mkdir -p \${l%/*};${sudo}${RUN} $p >$l 2>&1||{ tail -n20 $l>&2;exit 1;}`,
    `echo avfleet: ran ${short}`,
  ].join("\n");
}

/**
 * Pure. The command a host's local.Command runs in the project root: hostCommand over the
 * operator's ssh (metal-ssh.ts), fed the project's copy of the payload (none: the host's kept
 * copy), or `inline`, the text of a payload small enough to carry in the command (the drain
 * request). The state keeps the command and what it prints twice per host (inputs, outputs):
 * every byte here is one of the site's state.
 */
export function applyCommand(
  target: SshTarget,
  user: string,
  sha: string,
  inline?: string,
): string {
  if (inline?.split("\n").includes(INLINE_END)) {
    throw new Error(`an inline payload never holds a line ${INLINE_END}`);
  }
  const remote = hostCommand(user, sha);
  if (remote.includes("'"))
    throw new Error("the host's command is single-quoted: it never holds a quote");
  const ssh = `${target.master ? `sh ${target.master}&&` : ""}ssh -F ${target.config} ${target.host} '${remote}'`;
  if (inline !== undefined) return `${ssh} <<'${INLINE_END}'\n${inline}${INLINE_END}`;
  return `f=${payloadFile(sha)};[ -f $f ]||f=/dev/null\n${ssh} <$f`;
}
