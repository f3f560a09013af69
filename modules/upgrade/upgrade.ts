/**
 * `avfleet upgrade-inputs`: stack files, inventories and runbooks from the previous format.
 * Each file is rewritten where the fix is mechanical (rewrite.ts), then the whole set is
 * loaded by the current loaders in a staging copy of the project, so that what is left is
 * what the loaders say, and a cross-file check (a stack and its inventory, a runbook and its
 * stacks) sees the rewritten files together. Nothing here writes the user's files (write.ts).
 */
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { placeholderReason } from "../../policy/contract/placeholders";
import { INVENTORY_LIMITS } from "../inventory/inventory";
import { readInventory } from "../inventory/inventory";
import { loadStackFile, STACK_FILE } from "../stacks/stack";
import {
  formatKeyPath,
  formatProblems,
  InputError,
  type FileProblem,
  type Problem,
} from "../inputs/problems";
import { notUtf8 } from "../inputs/yaml-read";
import { loadRunbook } from "../runbook/runbook";
import { entryOf, entryTitled, type InputKind } from "./catalogue";
import { demandCsvProblem, HEADER, rewriteDemandCsv } from "./demand-csv";
import { parse, rewrite, type Change } from "./rewrite";

/** What is left for a human in a file after the rewrite, with its Changelog fix if known. */
export interface Remaining {
  path: string;
  message: string;
  expected: string;
  subject?: string;
  /** The Changelog entry's title and fix, when the problem is one a listed change left. */
  entry?: string;
  fix?: string;
  /** True for what the current loader refuses (exit 2 until fixed); false for a policy finding. */
  refused: boolean;
}

export interface FileResult {
  /** As the user named it. */
  file: string;
  kind: InputKind;
  /** The bytes read, and the text the rewrite produced (UTF-8). */
  read: Buffer;
  text: string;
  changes: Change[];
  remaining: Remaining[];
}

/** The largest input of any format (an inventory); each loader applies its own limit after. */
const MAX_BYTES = INVENTORY_LIMITS.bytes;

const TRANSCODE = entryTitled("a stack file, inventory, runbook or facts file that is not UTF-8");

/**
 * Bytes as text: UTF-8 as is; UTF-16 (the one other encoding YAML 1.2 §5.2 allows that
 * TextDecoder reads) decoded, as a change; anything else is a problem.
 */
function decode(bytes: Buffer): { text?: string; change?: Change; problem?: Problem } {
  const found = notUtf8(bytes);
  // A UTF-8 byte order mark stays: the yaml package reads past it, and it is not ours to drop.
  if (!found) return { text: bytes.toString("utf8") };
  if (found.startsWith("UTF-16")) {
    const big = found.includes("big") || (!found.includes("little") && bytes[0] === 0);
    const text = new TextDecoder(big ? "utf-16be" : "utf-16le").decode(bytes);
    return {
      text,
      change: { path: "(document)", from: found, to: "UTF-8", entry: TRANSCODE.title },
    };
  }
  return {
    problem: {
      path: [],
      message: `is ${found}`,
      expected: "a UTF-8 or UTF-16 text file (convert it: iconv -f <encoding> -t UTF-8)",
    },
  };
}

function readBytes(file: string): Buffer {
  const fd = openSync(file, "r");
  try {
    if (statSync(file).size > MAX_BYTES) throw new RangeError(`larger than ${MAX_BYTES} bytes`);
    const buffer = Buffer.allocUnsafe(MAX_BYTES + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < buffer.length; length += n) {
      n = readSync(fd, buffer, length, buffer.length - length, null);
    }
    if (length > MAX_BYTES) throw new RangeError(`larger than ${MAX_BYTES} bytes`);
    return Buffer.from(buffer.subarray(0, length));
  } finally {
    closeSync(fd);
  }
}

function kindOf(file: string, value: unknown): InputKind | Problem {
  const keys = value && typeof value === "object" ? Object.keys(value) : [];
  if (keys.includes("config")) {
    return STACK_FILE.test(basename(file))
      ? "stack file"
      : {
          path: [],
          message: "has config: but is not named Pulumi.<stack>.yaml",
          expected: "a stack file named Pulumi.<stack>.yaml",
        };
  }
  if (keys.includes("steps")) return "runbook";
  if (keys.includes("hosts") || keys.includes("hostClasses")) return "inventory";
  return {
    path: [],
    message: `has top-level keys ${keys.join(", ") || "(none)"}`,
    expected: "a stack file (config:), an inventory (hosts:) or a runbook (steps:)",
  };
}

/** Reads and rewrites one file; a problem means bad input (exit 2). */
function upgradeFile(file: string, root: string): { result?: FileResult; problems: FileProblem[] } {
  let bytes: Buffer;
  try {
    bytes = readBytes(file);
  } catch (err) {
    const why =
      err instanceof RangeError
        ? err.message
        : ((err as NodeJS.ErrnoException).code ?? String(err));
    return {
      problems: [
        { file, path: [], message: `cannot be read (${why})`, expected: "a readable input file" },
      ],
    };
  }
  const decoded = decode(bytes);
  if (decoded.text === undefined) return { problems: [{ file, ...decoded.problem! }] };
  const encoding = decoded.change ? [decoded.change] : [];
  if (file.endsWith(".csv")) {
    const header = decoded.text.split("\n")[0].trim();
    if (header !== HEADER) {
      const message = `starts "${header.slice(0, 40)}"`;
      return { problems: [{ file, path: ["line 1"], message, expected: `the header ${HEADER}` }] };
    }
    const csv = rewriteDemandCsv(decoded.text);
    const changes = [...encoding, ...csv.changes];
    const result = {
      file,
      kind: "demand CSV" as const,
      read: bytes,
      text: csv.text,
      changes,
      remaining: [],
    };
    return { result, problems: [] };
  }
  const doc = parse(decoded.text);
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => ({
        file,
        path: [],
        position: positionOf(decoded.text!, e.pos[0]),
        message: `malformed YAML (${e.message.split("\n")[0].replace(/ at line \d+, column \d+.*$/, "")})`,
        expected: "YAML the rest of the file can be read from",
      })),
    };
  }
  const kind = kindOf(file, doc.toJS({ maxAliasCount: -1 }));
  if (typeof kind !== "string") return { problems: [{ file, ...kind }] };
  const rewritten = rewrite(decoded.text, kind, root);
  return {
    result: {
      file,
      kind,
      read: bytes,
      text: rewritten.text,
      changes: [...encoding, ...rewritten.changes],
      remaining: [],
    },
    problems: [],
  };
}

function positionOf(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, col: before[before.length - 1].length + 1 };
}

const isInside = (root: string, path: string) => {
  const inside = relative(root, path);
  return inside !== ".." && !inside.startsWith(`..${sep}`) && !isAbsolute(inside);
};

/**
 * A copy of the files the loaders read: the rewritten ones as rewritten, the rest (the other
 * stack files a traffic split or runbook names, an inventory not upgraded) as they are.
 */
function stage(
  results: FileResult[],
  root: string,
  stacksDir: string,
): { dir: string; staged: Map<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-upgrade-"));
  const at = (file: string) => {
    const abs = resolve(file);
    return join(dir, isInside(root, abs) ? relative(root, abs) : join("outside", basename(abs)));
  };
  const staged = new Map<string, string>();
  for (const r of results) {
    const path = at(r.file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, r.text);
    staged.set(resolve(r.file), path);
  }
  const copy = (file: string) => {
    if (staged.has(resolve(file)) || !existsSync(file)) return;
    const path = at(file);
    mkdirSync(dirname(path), { recursive: true });
    copyFileSync(file, path);
    staged.set(resolve(file), path);
  };
  if (existsSync(stacksDir)) {
    for (const entry of readdirSync(stacksDir))
      if (STACK_FILE.test(entry)) copy(join(stacksDir, entry));
  }
  // The inventories the stack files name, as the loader will look for them.
  for (const r of results.filter((r) => r.kind === "stack file")) {
    const inventory = parse(r.text).getIn(["config", "avfleet:fleet", "inventory"]);
    if (typeof inventory === "string" && !isAbsolute(inventory)) {
      const file = join(root, inventory);
      // A link out of the project stays one: the copy would hide what the loader refuses.
      if (existsSync(file) && isInside(realpathSync(root), realpathSync(file))) copy(file);
    }
  }
  return { dir, staged };
}

/** Every problem the current loaders find in the staged files, under the user's names. */
function loaderProblems(results: FileResult[], root: string, stacksDir: string): FileProblem[] {
  const { dir, staged } = stage(results, root, stacksDir);
  const named = new Map(
    [...staged].map(([real, copy]) => [copy, relative(process.cwd(), real) || real]),
  );
  const stagedStacks = join(dir, relative(root, resolve(stacksDir)));
  const found: FileProblem[] = [];
  try {
    for (const r of results) {
      const file = staged.get(resolve(r.file))!;
      try {
        if (r.kind === "demand CSV") {
          const problem = demandCsvProblem(file);
          if (problem) found.push({ file, ...problem, path: [problem.path] });
        } else if (r.kind === "stack file") loadStackFile(file);
        else if (r.kind === "runbook") loadRunbook(file, stagedStacks);
        else found.push(...readInventory(file).problems);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        found.push(...err.problems);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const seen = new Set<string>();
  return found
    .map((p) => ({ ...p, file: named.get(p.file) ?? p.file }))
    .filter((p) => {
      const line = formatProblems([p])[0];
      return !seen.has(line) && seen.add(line);
    });
}

/**
 * What the mandatory policies would refuse in a stack file that loads: the ones a change of
 * the Changelog made mandatory, judged on the file as `avfleet policy` judges its facts.
 */
function policyLeft(result: FileResult): Remaining[] {
  const config = parse(result.text).toJS({ maxAliasCount: -1 })?.config ?? {};
  const fleet = config["avfleet:fleet"];
  const left: Remaining[] = [];
  const finding = (title: string, path: string, message: string, expected: string) => {
    const entry = entryTitled(title);
    left.push({ path, message, expected, entry: entry.title, fix: entry.fix, refused: false });
  };
  if (fleet && typeof fleet === "object") {
    if ((fleet.kind === "gcp" || fleet.kind === "aws") && fleet.endpoint && !fleet.endpointZone) {
      finding(
        "`endpointZone` on a cloud fleet with an `endpoint`",
        "config.avfleet:fleet.endpointZone",
        "is missing: the fleet declares no record for its endpoint (policy pool-endpoint-has-record)",
        "the zone of the endpoint's record",
      );
    }
    if (!fleet.alerting?.notify?.page) {
      finding(
        "Where pages go",
        "config.avfleet:fleet.alerting.notify.page",
        "is missing: pages reach no one (policy page-has-receiver)",
        "a receiver for pages",
      );
    }
  }
  const example = config["avfleet:example"];
  if (example === undefined || String(example) === "false") {
    const walk = (value: unknown, path: (string | number)[]): void => {
      if (typeof value === "string") {
        const reason = placeholderReason(value);
        if (reason) {
          finding(
            "No placeholder values in a stack that is applied",
            formatKeyPath(path),
            `is "${value}", which ${reason} (policy no-placeholders)`,
            "your own value",
          );
        }
      } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i]));
      else if (value && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) if (k !== "secure") walk(v, [...path, k]);
      }
    };
    for (const key of ["avfleet:fleet", "avfleet:traffic"]) walk(config[key], ["config", key]);
  }
  return left;
}

export interface Upgrade {
  files: FileResult[];
  /**
   * What the loaders refuse in a file a named one reads but that was not named itself (an
   * inventory, a pool's stack file): a human fixes it, or names it to have it upgraded too.
   */
  elsewhere: FileProblem[];
}

export interface UpgradeOptions {
  /** Where the stack files are; the project root is its parent. */
  stacksDir: string;
}

/**
 * Rewrites and checks `files`. Throws InputError (bad input, exit 2) when any file cannot be
 * read or is not YAML: then nothing is known about the others either.
 */
export function upgradeInputs(files: readonly string[], options: UpgradeOptions): Upgrade {
  const root = resolve(dirname(resolve(options.stacksDir)));
  const problems: FileProblem[] = [];
  const results: FileResult[] = [];
  const named = new Set<string>();
  for (const file of files) {
    // A file named twice (a glob and a path) is upgraded once.
    if (named.has(resolve(file))) continue;
    named.add(resolve(file));
    const read = upgradeFile(file, root);
    problems.push(...read.problems);
    if (read.result) results.push(read.result);
  }
  if (problems.length > 0) throw new InputError(formatProblems(problems), problems);
  const found = loaderProblems(results, root, options.stacksDir);
  for (const r of results) {
    const own = found.filter((p) => resolve(p.file) === resolve(r.file));
    r.remaining = own.map((p) => {
      const entry = entryOf(r.kind, p);
      return {
        path: p.position ? `${p.position.line}:${p.position.col}` : formatKeyPath(p.path),
        message: p.message,
        expected: p.expected,
        ...(p.subject === undefined ? {} : { subject: p.subject }),
        ...(entry ? { entry: entry.title, fix: entry.fix } : {}),
        refused: true,
      };
    });
    if (r.kind === "stack file") r.remaining.push(...policyLeft(r));
  }
  const elsewhere = found.filter((p) => !results.some((r) => resolve(p.file) === resolve(r.file)));
  return { files: results, elsewhere };
}

/** The files of a project by default: its stack files, inventories and runbooks. */
export function projectInputs(stacksDir: string): string[] {
  const root = dirname(resolve(stacksDir));
  const yamls = (dir: string, pattern: RegExp) =>
    existsSync(dir)
      ? readdirSync(dir)
          .filter((e) => pattern.test(e))
          .sort()
          .map((e) => relative(process.cwd(), join(dir, e)))
      : [];
  return [
    ...yamls(stacksDir, STACK_FILE),
    ...yamls(join(root, "inventory"), /\.ya?ml$/),
    ...yamls(join(root, "runbooks"), /\.ya?ml$/),
  ];
}
