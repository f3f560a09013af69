/**
 * A bare-metal host's payloads and the small command that runs one. A payload (a host class's
 * tuning and bootstrap, or a drain request) is one root script: parts (the tuning, the host
 * bootstrap) each bring files and commands, and the script installs every file and runs every
 * command. remote.CopyToRemote puts a class's payload in the SSH user's home under its sha256;
 * the command installs it root-owned at PAYLOAD_PATH, checks its sha256 there and runs it as
 * root: through `sudo -n` under one constant rule (sudoersRule), or directly for a root login.
 * Root owns the copy that is checked and run, so the login cannot swap it in between.
 */
import { sha256, shellQuote } from "../tuning";

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
const B64_END = "AVFLEET_B64";
const INLINE_END = "AVFLEET_PAYLOAD";

/**
 * The one sudoers line a non-root login needs, the same for every release and host class:
 * install a payload root-owned, read its sha256, run it. Whoever may install what root runs is
 * root in effect: the rule keeps the login from doing anything else by mistake and makes the
 * grant auditable; it does not make a stolen key harmless.
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
 * side (relative, so the state holds the same path on every machine) and in the login's home on
 * the host (SFTP resolves a relative path against the login directory). The host keeps every
 * payload it was handed, so a rollback finds the earlier one there. The command checks the whole
 * sha256 before it runs one.
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

/** Pure. The root script: every file installed and checked, then every command run. */
export function renderPayload(parts: readonly PayloadPart[]): Payload {
  const text = [
    ...parts.flatMap((p) => p.header),
    `# avfleet bare-metal payload: runs as root from ${PAYLOAD_PATH} (README.md, Bare metal).`,
    "set -eu",
    "fail() {",
    `  printf 'avfleet payload on %s: %s\\n' "$(uname -n)" "$1" >&2`,
    "  exit 1",
    "}",
    `[ "$(id -u)" -eq 0 ] || fail "runs as uid $(id -u), not root: its command runs it as root"`,
    ...parts.flatMap((p) => p.files).flatMap(installLines),
    ...parts.flatMap((p) => p.commands).map(quoted),
    "",
  ].join("\n");
  return { text, sha: sha256(text) };
}

/**
 * Pure. The command remote.Command runs in the login's home: install the payload of `sha`
 * root-owned (from its copy there, or from `inline`, the text of a payload small enough to carry
 * in the command: the drain request), check its sha256 as root, run it. The payload's output goes
 * to a log beside its copy; the command prints one line, or the log's end when the payload fails.
 * The state keeps the command and what it prints twice per host (inputs, outputs): every byte
 * here is one of the site's state.
 */
export function applyCommand(user: string, sha: string, inline?: string): string {
  const sudo = privilegeOf(user) === "root" ? "" : "sudo -n ";
  const file = payloadFile(sha);
  if (inline?.split("\n").includes(INLINE_END)) {
    throw new Error(`an inline payload never holds a line ${INLINE_END}`);
  }
  // A login without the rule (or without sudo) stops here, having changed nothing.
  const refused = sudo
    ? `||{ echo "avfleet: could not install $f as root: sudo -n needs the rule pulumi stack output provisioning shows">&2;exit 1;}`
    : "";
  return [
    "set -e",
    `s=${sha} p=${PAYLOAD_PATH} f=${file}`,
    ...(inline === undefined
      ? [`${sudo}${INSTALL.join(" ")} $p <$f${refused}`]
      : [
          `mkdir -p ${file.slice(0, file.lastIndexOf("/"))}`,
          `${sudo}${INSTALL.join(" ")} $p <<'${INLINE_END}'${refused}`,
          inline + INLINE_END,
        ]),
    `[ "$(${sudo}${CHECK} $p)" = "$s  $p" ]||{ echo avfleet: $p is not $s>&2;exit 1;}`,
    `${sudo}${RUN} $p >$f.log 2>&1||{ tail -n20 $f.log>&2;exit 1;}`,
    `echo avfleet: ran ${sha.slice(0, 16)}`,
  ].join("\n");
}
