/**
 * Renders avfleet-tune: the POSIX shell library (avfleet-tune.lib.sh) followed by the
 * settings baked in as calls. Every argument is single-quoted here even though the facts
 * schema already admits only safe characters: either one alone keeps a value inert.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ProfileName } from "./profiles";
import type { InstalledFile, Setting, TuningPlan } from "./settings";

/** The avfleet-tune format: bump when the script's behaviour or table changes. */
export const AVFLEET_TUNE_VERSION = "1";

/**
 * The commands avfleet-tune calls that a minimal host may lack, and the package that has
 * each (Debian and Ubuntu; Fedora, RHEL, SUSE and Alpine use the same names).
 */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  ethtool: "ethtool",
  nft: "nftables",
};

const LIBRARY = readFileSync(join(__dirname, "avfleet-tune.lib.sh"), "utf8");
const HEREDOC_END = "AVFLEET_TUNE_EOF";

/** Quotes a string for POSIX sh: nothing inside single quotes is special but the quote. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function call(words: readonly string[], prefix: string[] = []): string {
  const [fn, ...args] = words;
  if (!/^[a-z_]+$/.test(fn)) throw new Error(`not an avfleet-tune function: ${fn}`);
  return [fn, ...prefix, ...args.map(shellQuote)].join(" ");
}

function fileCheck(file: InstalledFile): string[] {
  if (!file.content.endsWith("\n"))
    throw new Error(`${file.path}: content must end with a newline`);
  return ["install_file", file.path, file.mode, sha256(file.content)];
}

function installFile(file: InstalledFile): string {
  if (file.content.split("\n").includes(HEREDOC_END)) {
    throw new Error(`${file.path}: content contains the here-document end marker`);
  }
  return `  ${call(fileCheck(file))} <<'${HEREDOC_END}'\n${file.content}${HEREDOC_END}`;
}

function fn(name: string, lines: string[]): string {
  return `${name}() {\n${lines.length ? lines.join("\n") : "  :"}\n}`;
}

export function renderScript(profile: ProfileName, plan: TuningPlan): string {
  const host = plan.settings.filter((s: Setting) => s.area !== "nic");
  const nic = plan.settings.filter((s: Setting) => s.area === "nic");
  let interfaces = "  default_route_interfaces";
  if (nic.length === 0) interfaces = "  :";
  else if (plan.interfaces) interfaces = `  ${call(["printf", "%s\\n", ...plan.interfaces])}`;
  return [
    "#!/bin/sh",
    `# avfleet-tune ${AVFLEET_TUNE_VERSION} profile=${profile}: apply and verify host tuning for UDP media.`,
    "# Rendered by avfleet (modules/tuning) from a profile and host facts; change those, not this file.",
    "# Usage: avfleet-tune apply|verify|provision",
    LIBRARY.trimEnd(),
    "",
    "# --- this host's settings, rendered ---------------------------------------------------",
    "",
    fn("tools", [
      `  ${call(["printf", "%s\\n", ...Object.entries(TOOL_PACKAGES).map(([c, p]) => `${c}:${p}`)])}`,
    ]),
    "",
    fn("install_files", plan.files.map(installFile)),
    "",
    fn(
      "host_settings",
      host.map((s) => `  ${call(s.check)}`),
    ),
    "",
    fn("interfaces", [interfaces]),
    "",
    fn(
      "nic_settings",
      nic.map((s) => `  ${call(s.check, ['"$1"'])}`),
    ),
    "",
    'main "$@"',
    "",
  ].join("\n");
}

/** The files a rendered profile writes, as explain shows them. */
export function fileSettings(files: readonly InstalledFile[]): Setting[] {
  return files.map((file) => ({
    area: "file",
    name: file.path,
    value: `sha256:${sha256(file.content).slice(0, 12)}`,
    reason: file.reason,
    check: fileCheck(file),
  }));
}
