/**
 * A bare-metal host's SSH payload: the shell text remote.Command runs as the site's SSH user.
 * Parts (the tuning today, the host agent next) each bring files and commands; the payload
 * installs every file and runs every command as root: directly when the site logs in as
 * root, otherwise through `sudo -n` under exactly the rule sudoersRule() renders. It checks
 * that it may before the first privileged step, and says what to grant when it may not.
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

/** A host's payload: the command to run and the hash that triggers a re-run. */
export interface HostPayload {
  create: string;
  hash: string;
}

/** How the payload becomes root: a root login, or sudo -n for any other user. */
export type Privilege = "root" | "sudo";

export function privilegeOf(user: string): Privilege {
  return user === "root" ? "root" : "sudo";
}

export const SUDOERS_FILE = "/etc/sudoers.d/avfleet";
const INSTALL = "/usr/bin/install";
/** Words sudoers reads literally: no spaces, wildcards or its special characters (, : = \ !). */
const SUDOERS_WORD = /^[A-Za-z0-9_./@%+-]+$/;
const B64_END = "AVFLEET_B64";

function installArgv(file: PayloadFile): string[] {
  return [INSTALL, "-D", "-m", file.mode, "/dev/stdin", file.path];
}

function sudoersCommand(argv: string[]): string {
  if (!argv[0]?.startsWith("/")) throw new Error(`not an absolute program path: ${argv[0]}`);
  for (const word of argv) {
    if (!SUDOERS_WORD.test(word)) throw new Error(`not a literal sudoers word: ${word}`);
  }
  return argv.join(" ");
}

/**
 * The one sudoers line that lets `user` run this payload: each install and command with its
 * exact arguments, nothing else. Whoever may replace a program that runs as root is root in
 * effect: the rule keeps the login from doing anything else by mistake and makes the grant
 * auditable; it does not make a stolen key harmless.
 */
export function sudoersRule(user: string, parts: readonly PayloadPart[]): string {
  const argvs = [
    ...parts.flatMap((p) => p.files.map(installArgv)),
    ...parts.flatMap((p) => p.commands),
  ];
  return `${user} ALL=(root) NOPASSWD: ${argvs.map(sudoersCommand).join(", ")}`;
}

function quoted(argv: string[]): string {
  return argv.map(shellQuote).join(" ");
}

function privilegeLines(user: string, rule: string): string[] {
  if (privilegeOf(user) === "root") {
    return [
      `# avfleet bare-metal payload: runs as root (the site logs in as ${user}).`,
      "set -eu",
      "fail() {",
      `  printf 'avfleet payload on %s as %s: %s\\n' "$(uname -n)" "$(id -un)" "$1" >&2`,
      "  exit 1",
      "}",
      `[ "$(id -u)" -eq 0 ] || fail "needs a root login (ssh.user: root) but runs as uid $(id -u): log in as root, or set ssh.user to a user granted the sudoers rule in README.md (Bare metal)"`,
      "may_root() { :; }",
      'as_root() { "$@"; }',
    ];
  }
  const grant = `grant exactly this rule in ${SUDOERS_FILE} (visudo -f ${SUDOERS_FILE}): $grant - or log in as root (ssh.user: root)`;
  return [
    `# avfleet bare-metal payload: runs as ${user}; every privileged step through sudo -n,`,
    `# allowed by exactly this rule in ${SUDOERS_FILE}:`,
    `# ${rule}`,
    "set -eu",
    `grant=${shellQuote(rule)}`,
    "fail() {",
    `  printf 'avfleet payload on %s as %s: %s\\n' "$(uname -n)" "$(id -un)" "$1" >&2`,
    "  exit 1",
    "}",
    `command -v sudo >/dev/null 2>&1 || fail "sudo is not installed: install it and ${grant}"`,
    "may_root() {",
    `  sudo -n -l "$@" >/dev/null 2>&1 || fail "may not run '$*' as root without a password: ${grant}"`,
    "}",
    'as_root() { sudo -n "$@"; }',
  ];
}

function installLines(file: PayloadFile): string[] {
  const encoded = Buffer.from(file.content)
    .toString("base64")
    .replace(/(.{76})/g, "$1\n");
  const path = shellQuote(file.path);
  return [
    `base64 -d <<'${B64_END}' | as_root ${quoted(installArgv(file))}`,
    encoded.trimEnd(),
    B64_END,
    // A broken pipe or a full disk would leave a partial file: compare what landed.
    `if [ -r ${path} ] && ! printf '%s  %s\\n' ${sha256(file.content)} ${path} | sha256sum -c --status -; then`,
    `  fail "installed ${file.path} differs from the rendered file"`,
    "fi",
  ];
}

/**
 * Pure. The payload checks every install it may run before the first one, and every command
 * before the first command; `hash` changes exactly when the text does.
 */
export function renderPayload(user: string, parts: readonly PayloadPart[]): HostPayload {
  const files = parts.flatMap((p) => p.files);
  const commands = parts.flatMap((p) => p.commands);
  const create = [
    ...parts.flatMap((p) => p.header),
    ...privilegeLines(user, sudoersRule(user, parts)),
    ...files.map((f) => `may_root ${quoted(installArgv(f))}`),
    ...files.flatMap(installLines),
    ...commands.map((argv) => `may_root ${quoted(argv)}`),
    ...commands.map((argv) => `as_root ${quoted(argv)}`),
    "",
  ].join("\n");
  return { create, hash: sha256(create) };
}
