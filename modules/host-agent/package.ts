/**
 * The host agent as a host gets it: the Python package avfleet_agent (standard library only),
 * one module per job and one adapter per platform behind cloud.py's CloudInstanceManager, and the
 * launcher its systemd units run. Pure renders; modules/host puts the files in the bootstrap.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const AGENT_PACKAGE = "avfleet_agent";

/** The adapter module of each platform (platforms.py picks one by the config's `platform`). */
export const ADAPTER_MODULES: Readonly<Record<string, string>> = {
  gcp: "gcp.py",
  aws: "aws.py",
  metal: "metal.py",
};

/** Every module of the package as the repository holds it, by file name. */
export function packageSources(): Map<string, string> {
  const dir = join(__dirname, AGENT_PACKAGE);
  return new Map(
    readdirSync(dir)
      .filter((name) => name.endsWith(".py"))
      .sort()
      .map((name) => [name, readFileSync(join(dir, name), "utf8")]),
  );
}

const SOURCES = packageSources();

/**
 * The package's modules a host of `platforms` runs, compacted: the adapters of other platforms
 * left out (GCP's and AWS's are an eighth to a sixth of the agent, and a host runs one).
 */
export function agentModules(platforms: ReadonlySet<string>): { name: string; content: string }[] {
  const others = Object.entries(ADAPTER_MODULES)
    .filter(([platform]) => !platforms.has(platform))
    .map(([, module]) => module);
  return [...SOURCES]
    .filter(([name]) => !others.includes(name))
    .map(([name, source]) => ({ name, content: `${compactPython(source)}\n` }));
}

/**
 * The launcher the units run (`python3 <launcher> …`): it puts the package's directory, given
 * relative to the launcher's own, first on sys.path — Python puts only the script's own
 * directory there (https://docs.python.org/3/library/sys.html#sys.path) — so it runs wherever
 * the tree is installed (under $AVFLEET_ROOT in the host rehearsal too). No bytecode is
 * written: root's tuning check would leave a __pycache__ beside the package that the bootstrap,
 * which puts only the .py files, never replaces
 * (https://docs.python.org/3/library/sys.html#sys.dont_write_bytecode).
 */
export function agentLauncher(packageParent: string): string {
  return [
    "#!/usr/bin/python3",
    `# avfleet-agent: rendered by avfleet (modules/host-agent); the package is in ${packageParent}.`,
    "import os",
    "import sys",
    "",
    "sys.dont_write_bytecode = True",
    `sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), ${JSON.stringify(packageParent)}))`,
    `from ${AGENT_PACKAGE}.main import main`,
    "",
    "main()",
    "",
  ].join("\n");
}

/**
 * A Python module as a host gets it: without its comment-only and blank lines and its
 * docstrings, indented by one space a level and with bracketed lines joined: a host needs none of
 * it (the launcher says what rendered it), and every byte is in each host's boot payload. A
 * docstring is a line opening with `"""` right after a line ending in `:` (a def or class), up
 * to the line that closes it. A comment line inside a multi-line string would change
 * the program: a test holds each compacted module's syntax tree equal to the original's less its
 * docstrings.
 */
export function compactPython(source: string): string {
  const kept: string[] = [];
  let inDocstring = false;
  let depth = 0;
  for (const line of source.split("\n")) {
    const text = line.trim();
    if (inDocstring) {
      inDocstring = !text.endsWith('"""');
    } else if (text.startsWith('"""') && kept.at(-1)?.trimEnd().endsWith(":")) {
      inDocstring = text.length < 6 || !text.endsWith('"""');
    } else if (depth > 0 && text && !text.startsWith("#")) {
      // Inside brackets a line break is only a space.
      const last = kept.pop()!;
      kept.push(`${last}${/[([{]$/.test(last) ? "" : " "}${text}`);
      depth += bracketDepth(text);
    } else if (text && !text.startsWith("#")) {
      // One space per level of four: Python asks only that a block's lines agree.
      kept.push(line.replace(/^(?: {4})+/, (indent) => " ".repeat(indent.length / 4)));
      depth += bracketDepth(text);
    }
  }
  return kept.join("\n");
}

/** How much a line of Python opens brackets (its strings and comment left out). */
function bracketDepth(text: string): number {
  const code = text.replace(/"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|#.*/g, "");
  return [...code].reduce((d, c) => d + ("([{".includes(c) ? 1 : ")]}".includes(c) ? -1 : 0), 0);
}
