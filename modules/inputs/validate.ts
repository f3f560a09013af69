/**
 * The one way every input format (stack file, inventory, runbook, tuning facts, and any format
 * added later) is read and checked: a size limit before parsing, YAML parsed with explicit
 * limits, then the format's JSON Schema and its semantic checks in one pass, with every problem
 * reported at once, sorted by file and key path, as `<file>: <key path>: <what is wrong>,
 * expected <what>` (or `<file>: <line>:<col>: …` where the YAML itself is wrong).
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { resolve } from "node:path";
import Ajv, { type ErrorObject, type AnySchema } from "ajv";
import addFormats from "ajv-formats";
import * as jsyaml from "js-yaml";
import YAML, { LineCounter, Schema, isAlias, isScalar, type Node } from "yaml";
import { inDurationRange, type DurationRange } from "./duration";
import { isCidr } from "./net";

/** A key path inside a document: property names and array indexes. */
export type KeyPath = readonly (string | number)[];

/** One thing wrong with an input. */
export interface Problem {
  path: KeyPath;
  /** What is wrong, e.g. `is 80`. */
  message: string;
  /** What would be right, e.g. `a port in 1024–65535`. */
  expected: string;
  /** Where in the text, for problems of the YAML itself (they have no key path yet). */
  position?: { line: number; col: number };
  /**
   * The list item the problem is about, by name (e.g. a host's), said after the message. The
   * same problem on several items of one list is one line naming them all.
   */
  subject?: string;
}

/** A problem with the file it is in: checks that span files (a stack and its inventory). */
export interface FileProblem extends Problem {
  file: string;
}

/** Bad input: every problem found, already formatted. The CLI prints them and exits 2. */
export class InputError extends Error {
  constructor(
    readonly lines: string[],
    /** The problems behind the lines, where known: a caller merging several files sorts them. */
    readonly problems: FileProblem[] = [],
  ) {
    super(lines.join("\n"));
    this.name = "InputError";
  }
}

export function formatKeyPath(path: KeyPath): string {
  if (path.length === 0) return "(document)";
  return path
    .map((segment, i) =>
      typeof segment === "number" ? `[${segment}]` : i === 0 ? segment : `.${segment}`,
    )
    .join("");
}

export function formatProblem(file: string, problem: Problem): string {
  const where = problem.position
    ? `${problem.position.line}:${problem.position.col}`
    : formatKeyPath(problem.path);
  const subject = problem.subject === undefined ? "" : ` ${problem.subject}`;
  return `${file}: ${where}: ${problem.message}${subject}, expected ${problem.expected}`;
}

/** Most indexes and subjects a grouped line spells out before "…". */
const GROUP_SHOWN = 40;

function listed(items: readonly (string | number)[]): string {
  const shown = items.slice(0, GROUP_SHOWN).join(", ");
  return items.length > GROUP_SHOWN ? `${shown}, … ${items.length - GROUP_SHOWN} more` : shown;
}

/**
 * One line per problem, except that the same problem (message and expected) at the same key
 * of several items of one list is one line: `hosts[3, 5, 9].hostKey (3 items: a, b, c): …`.
 * Twenty-nine near-identical lines hide the one that differs.
 */
export function formatProblems(problems: readonly FileProblem[]): string[] {
  const groups = new Map<string, FileProblem[]>();
  const order: FileProblem[][] = [];
  for (const p of problems) {
    const item = p.position ? -1 : p.path.findIndex((segment) => typeof segment === "number");
    const shape = p.path.map((segment, i) => (i === item ? "*" : String(segment)));
    const key =
      item < 0 ? `${order.length}` : [p.file, item, ...shape, p.message, p.expected].join("\0");
    const group = groups.get(key);
    if (group) group.push(p);
    else {
      groups.set(key, [p]);
      order.push(groups.get(key)!);
    }
  }
  return [
    ...new Set(
      order.map((group) => {
        const [first] = group;
        if (group.length === 1) return formatProblem(first.file, first);
        const item = first.path.findIndex((segment) => typeof segment === "number");
        const indexes = [...new Set(group.map((p) => p.path[item]))];
        const list = formatKeyPath(first.path.slice(0, item + 1)).replace(
          /\[\d+\]$/,
          `[${listed(indexes)}]`,
        );
        const rest = formatKeyPath(["", ...first.path.slice(item + 1)]);
        const subjects = group.flatMap((p) => (p.subject === undefined ? [] : [p.subject]));
        const items = `(${indexes.length} items${subjects.length ? `: ${listed(subjects)}` : ""})`;
        return `${first.file}: ${list}${rest} ${items}: ${first.message}, expected ${first.expected}`;
      }),
    ),
  ];
}

function compareSegments(a: string | number, b: string | number): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  const [x, y] = [String(a), String(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Text positions first (in text order), then key paths segment by segment, indexes numerically. */
function compareProblems(a: Problem, b: Problem): number {
  if (a.position || b.position) {
    if (!a.position) return 1;
    if (!b.position) return -1;
    return a.position.line - b.position.line || a.position.col - b.position.col;
  }
  for (let i = 0; i < Math.min(a.path.length, b.path.length); i++) {
    const order = compareSegments(a.path[i], b.path[i]);
    if (order !== 0) return order;
  }
  return a.path.length - b.path.length;
}

/** Throws an InputError when there are problems, sorted by file, then by key path. */
export function assertNoFileProblems(problems: FileProblem[]): void {
  if (problems.length === 0) return;
  // A stable sort: problems at one path keep the order they were found in.
  const sorted = [...problems].sort(
    (a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) || compareProblems(a, b),
  );
  throw new InputError(formatProblems(sorted), sorted);
}

/** Throws an InputError when there are problems, sorted by key path. */
export function assertNoProblems(file: string, problems: Problem[]): void {
  assertNoFileProblems(inFile(file, problems));
}

export function inFile(file: string, problems: Problem[]): FileProblem[] {
  return problems.map((p) => ({ ...p, file }));
}

const ajv = new Ajv({
  allErrors: true,
  strict: true,
  // A discriminated oneOf names its tag in `required` beside the branches that define it.
  strictRequired: false,
  // Defaults live in the schemas, so a loaded document is complete and its FromSchema type
  // can treat defaulted keys as present.
  useDefaults: true,
  verbose: true,
  discriminator: true,
  allowUnionTypes: true,
});
addFormats(ajv, ["ipv4", "ipv6", "hostname", "uri", "email"]);
ajv.addFormat("cidr", { type: "string", validate: isCidr });
ajv.addKeyword({
  keyword: "durationRange",
  type: "string",
  schemaType: "object",
  validate: (range: DurationRange, data: string) => inDurationRange(range, data),
});

const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();

/** YAML's spelling of the numbers JSON has none for (`.inf`, `-.inf`, `.nan`; `1e400` is `.inf`). */
function nonFinite(value: number): string {
  return Number.isNaN(value) ? ".nan" : value > 0 ? ".inf" : "-.inf";
}

function show(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (typeof value === "number" && !Number.isFinite(value)) return nonFinite(value);
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${show(value)}`;
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** What a (sub)schema accepts, in words, for "expected …". */
export function describeSchema(schema: unknown): string {
  if (typeof schema !== "object" || schema === null) return "a value";
  const s = schema as Record<string, unknown>;
  if (typeof s.description === "string") {
    // "a CPU count" does not say that 2.5 is wrong; "an integer" does.
    return s.type === "integer" && !/integer/.test(s.description)
      ? `${s.description} (an integer)`
      : s.description;
  }
  if (s.type === "integer") return "an integer";
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => show(v)).join(" | ")}`;
  if (s.type === "object") return "a mapping";
  if (s.type === "array") return "a list";
  if (typeof s.type === "string") return `a ${s.type}`;
  return "a value";
}

function problemFromAjv(error: ErrorObject): Problem | undefined {
  const path = pointerToPath(error.instancePath);
  const data = error.data;
  const schema = error.parentSchema as Record<string, unknown> | undefined;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required": {
      const key = String(params.missingProperty);
      const props = (schema?.properties ?? {}) as Record<string, unknown>;
      return { path: [...path, key], message: "is missing", expected: describeSchema(props[key]) };
    }
    case "additionalProperties": {
      const known = Object.keys((schema?.properties ?? {}) as object);
      return {
        path: [...path, String(params.additionalProperty)],
        message: "is not a known key",
        expected: known.length ? `one of ${known.join(", ")}` : "no keys here",
      };
    }
    case "discriminator": {
      const tag = String(params.tag);
      const allowed = ((schema?.oneOf ?? []) as Record<string, any>[])
        .map((branch) => branch.properties?.[tag]?.const)
        .filter((v) => v !== undefined);
      const value = (data as Record<string, unknown> | undefined)?.[tag];
      return {
        path: [...path, tag],
        message: value === undefined ? "is missing" : `is ${show(value)}`,
        expected: `one of ${allowed.join(" | ")}`,
      };
    }
    case "type":
      return { path, message: `is ${typeName(data)}`, expected: describeSchema(schema) };
    case "minimum":
    case "exclusiveMinimum":
    case "maximum":
    case "exclusiveMaximum": {
      const sign = { minimum: "≥", exclusiveMinimum: ">", maximum: "≤", exclusiveMaximum: "<" }[
        error.keyword
      ];
      const bound = `${sign} ${String(params.limit)}`;
      const described = typeof schema?.description === "string" ? `${schema.description}, ` : "";
      return { path, message: `is ${show(data)}`, expected: `${described}${bound}` };
    }
    case "durationRange": {
      const range = schema?.durationRange as DurationRange;
      const described = typeof schema?.description === "string" ? `${schema.description}, ` : "";
      return {
        path,
        message: `is ${show(data)}`,
        expected: `${described}from ${range.min} to ${range.max}`,
      };
    }
    case "minItems":
    case "minProperties": {
      // A list's description names its upper bound ("a list of at most 50000 hosts"), which
      // says nothing to the writer of an empty one.
      const least = Number(params.limit);
      const described = describeSchema(schema);
      const count = Array.isArray(data) ? data.length : Object.keys(data as object).length;
      return {
        path,
        message: count === 0 ? "is empty" : `has ${count}`,
        expected: / at most /.test(described)
          ? described.replace(/ at most /, ` at least ${least} and at most `)
          : least === 1 && /non-empty/.test(described)
            ? described
            : `${described}, with at least ${least} ${least === 1 ? "entry" : "entries"}`,
      };
    }
    case "pattern":
      // A pattern without a description would read "expected a value": show it. A key refused
      // by propertyNames is named at its own path, not its mapping's.
      return {
        path: error.propertyName === undefined ? path : [...path, error.propertyName],
        message: error.propertyName === undefined ? `is ${show(data)}` : "is not an allowed name",
        expected:
          typeof schema?.description === "string"
            ? schema.description
            : `a value matching ${String(params.pattern)}`,
      };
    case "if":
    case "propertyNames":
    case "oneOf":
    case "anyOf":
      return undefined; // the branch (or name) errors say what is wrong
    default:
      return { path, message: `is ${show(data)}`, expected: describeSchema(schema) };
  }
}

const FINITE = "a finite number";

function nonFiniteProblems(value: unknown, path: KeyPath = []): Problem[] {
  if (typeof value === "number" && !Number.isFinite(value)) {
    return [{ path, message: `is ${nonFinite(value)}`, expected: FINITE }];
  }
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, v]) =>
    nonFiniteProblems(v, [...path, Array.isArray(value) ? Number(key) : key]),
  );
}

/** Validates a parsed document against a JSON Schema; returns every problem. */
export function schemaProblems(
  schema: AnySchema,
  document: unknown,
  prefix: KeyPath = [],
): Problem[] {
  let validate = compiled.get(schema as object);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema as object, validate);
  }
  // JSON has no infinity or NaN, so ajv's messages about them would say "null": name them here
  // and let them stand for whatever else ajv says about the same key.
  const problems = nonFiniteProblems(document);
  if (validate(document) && problems.length === 0) return [];
  problems.push(
    ...(validate.errors ?? []).map(problemFromAjv).filter((p): p is Problem => p !== undefined),
  );
  // One problem per key: `100.5` is not an integer, and saying it is also above 100 is noise.
  const firstPerKey = new Map<string, Problem>();
  for (const p of problems) {
    const key = formatKeyPath(p.path);
    const first = firstPerKey.get(key);
    if (!first) firstPerKey.set(key, p);
    // `.inf` where a port goes: say what a port is rather than just "finite".
    else if (first.expected === FINITE && p.expected !== "a value" && p.expected !== FINITE)
      firstPerKey.set(key, { ...first, expected: p.expected.replace(/, [≤≥<>] .*$/, "") });
  }
  return [...firstPerKey.values()].map((p) => ({ ...p, path: [...prefix, ...p.path] }));
}

/** Aliases a document may expand (the yaml package's own default, made explicit). */
export const MAX_ALIAS_COUNT = 100;

/** How a file of one format is read: its limits, before and while parsing. */
export interface ReadLimits {
  /** What a good file is, for "expected …" in problems of the file as a whole. */
  expected: string;
  /** Largest file accepted, checked before parsing. */
  maxBytes: number;
  /**
   * Most block-list entries (`- …` lines) accepted, counted before parsing, so that a file far
   * over a list limit is refused in milliseconds rather than parsed for minutes.
   */
  maxListItems?: number;
}

function at(position: { line: number; col: number }, message: string, expected: string): Problem {
  return { path: [], position, message, expected };
}

function tooLarge(maxBytes: number): Problem {
  return {
    path: [],
    message: `is larger than ${maxBytes} bytes`,
    expected: `a file of at most ${maxBytes} bytes (${Math.round(maxBytes / 1024)} KiB)`,
  };
}

/**
 * Why bytes are not UTF-8 text, or undefined. Decoding them anyway would show the user a garbled
 * file and a YAML error about it. YAML 1.2 §5.2 (https://yaml.org/spec/1.2.2/#52-character-encodings)
 * lets a stream be UTF-16 or UTF-32, told by its byte order mark or, without one, by where the
 * NULs of its ASCII characters fall; avfleet reads UTF-8 only (one encoding for diffs, hashes
 * and the yaml package, which takes strings) and says which encoding it found instead. No YAML
 * character is NUL (§5.1, c-printable), so NULs without that pattern are a binary file.
 */
export function notUtf8(bytes: Uint8Array): string | undefined {
  const starts = (...mark: number[]) => mark.every((b, i) => bytes[i] === b);
  if (starts(0x00, 0x00, 0xfe, 0xff) || starts(0xff, 0xfe, 0x00, 0x00)) return "UTF-32";
  if (starts(0xfe, 0xff)) return "UTF-16 (big-endian, with a byte order mark)";
  if (starts(0xff, 0xfe)) return "UTF-16 (little-endian, with a byte order mark)";
  if (bytes.includes(0)) {
    // Mostly-ASCII text in UTF-16 has a NUL in most of one half of its byte pairs (the odd
    // offsets little-endian, the even ones big-endian).
    const sample = bytes.subarray(0, 4096);
    const nulsAt = (parity: number) => sample.filter((b, i) => i % 2 === parity && b === 0).length;
    const half = sample.length / 4;
    return nulsAt(0) > half || nulsAt(1) > half ? "UTF-16 (no byte order mark)" : "binary";
  }
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return undefined;
  } catch {
    return "not UTF-8 (Latin-1 or another legacy encoding?)";
  }
}

function readBounded(file: string, maxBytes: number): { text?: string; problems: Problem[] } {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    if (statSync(file).size > maxBytes) return { problems: [tooLarge(maxBytes)] };
    // Read one byte past the limit rather than trust the size: a pipe or /dev/zero has none.
    const buffer = Buffer.allocUnsafe(maxBytes + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < buffer.length; length += n) {
      n = readSync(fd, buffer, length, buffer.length - length, null);
    }
    if (length > maxBytes) return { problems: [tooLarge(maxBytes)] };
    const bytes = buffer.subarray(0, length);
    const encoding = notUtf8(bytes);
    if (encoding) {
      return {
        problems: [{ path: [], message: `is ${encoding}`, expected: "a UTF-8 text file" }],
      };
    }
    return { text: bytes.toString("utf8"), problems: [] };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return {
      problems: [{ path: [], message: `cannot be read (${code})`, expected: "a readable file" }],
    };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function listItemProblems(text: string, limit: number): Problem[] {
  let items = 0;
  for (const _ of text.matchAll(/^[ \t]*-(?:[ \t]|$)/gm)) {
    if (++items > limit) {
      return [
        {
          path: [],
          message: `has more than ${limit} list entries`,
          expected: `at most ${limit} (split the file; see the limits in docs/reference/stacks-and-inputs.md)`,
        },
      ];
    }
  }
  return [];
}

/** Text that may hold an anchor, an alias, a tag, a merge key or a directive. */
const NOT_PLAIN = /[&*!]|<<|^%/m;
/**
 * Plain scalars the YAML 1.2 core schema resolves to null, a boolean or a number: the yaml
 * package's own patterns. js-yaml keeps some as strings (`1e400`, which yaml reads as
 * Infinity) and writes null keys as "null" where yaml writes "": a string or key of this
 * shape sends the document the slow way.
 */
const CORE_NON_STRING = new Schema({ schema: "core" }).tags.flatMap((tag) =>
  "test" in tag && tag.test ? [tag.test] : [],
);
const looksResolved = (text: string) => CORE_NON_STRING.some((pattern) => pattern.test(text));

function stringsAgree(value: unknown): boolean {
  if (typeof value === "string") return !looksResolved(value);
  if (Array.isArray(value)) return value.every(stringsAgree);
  if (value === null || typeof value !== "object") return true;
  return Object.entries(value).every(([key, v]) => !looksResolved(key) && stringsAgree(v));
}

/**
 * A plain document (no anchors, aliases, tags, merge keys or directives) through js-yaml,
 * ten times faster than the yaml package (40 ms against 420 ms for a 5,000-host inventory),
 * with the same YAML 1.2 core schema; undefined for anything else, for whatever js-yaml
 * refuses (the yaml package reports it with its position), and for a string that may have
 * been a plain scalar yaml would read otherwise.
 * test/inputs/yaml-parsers.test.ts holds the two to the same values.
 */
export function parsePlainYaml(text: string): unknown {
  if (NOT_PLAIN.test(text)) return undefined;
  let value: unknown;
  try {
    value = jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA });
  } catch {
    return undefined;
  }
  return value !== null && value !== undefined && stringsAgree(value) ? value : undefined;
}

/**
 * Parses YAML text with explicit limits. Malformed YAML, tags, merge keys (`<<`), aliases
 * expanding past MAX_ALIAS_COUNT and an empty document are problems at their line:col.
 */
export function parseYamlText(
  text: string,
  expected: string,
): { value?: unknown; problems: Problem[] } {
  const plain = parsePlainYaml(text);
  if (plain !== undefined) return { value: plain, problems: [] };
  const lineCounter = new LineCounter();
  const posOf = (offset: number) => lineCounter.linePos(offset);
  try {
    const doc = YAML.parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter });
    const problems: Problem[] = [...doc.errors, ...doc.warnings].map((e) =>
      at(
        posOf(e.pos[0]),
        `malformed YAML (${e.message.split("\n")[0].replace(/ at line \d+, column \d+.*$/, "")})`,
        expected,
      ),
    );
    let firstAlias: Node | undefined;
    YAML.visit(doc, {
      Alias(_, node) {
        firstAlias ??= node;
      },
      Pair(_, pair) {
        // YAML 1.2 has no merge keys; the yaml package would keep `<<` as an ordinary key.
        if (isScalar(pair.key) && pair.key.value === "<<" && pair.key.range) {
          problems.push(
            at(
              posOf(pair.key.range[0]),
              "is a YAML merge key (<<), which avfleet does not support",
              "the merged keys written out in full",
            ),
          );
        }
      },
    });
    if (problems.length > 0) return { problems };
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      if (!(err instanceof ReferenceError) || !firstAlias) throw err;
      const position =
        isAlias(firstAlias) && firstAlias.range ? posOf(firstAlias.range[0]) : { line: 1, col: 1 };
      return {
        problems: [
          at(
            position,
            `has aliases that expand past ${MAX_ALIAS_COUNT} nodes (${err.message})`,
            "a document that writes its values out, or uses few aliases",
          ),
        ],
      };
    }
    if (value === null || value === undefined) {
      return { problems: [{ path: [], message: "is empty", expected }] };
    }
    return { value, problems: [] };
  } catch (err) {
    // Whatever else the parser throws (a nesting deep enough to exhaust the stack) is still the
    // file's fault, not ours.
    return {
      problems: [at({ line: 1, col: 1 }, `cannot be parsed (${(err as Error).message})`, expected)],
    };
  }
}

/** Reads a YAML (or JSON) file within its limits; returns the value or every problem. */
export function readYaml(
  file: string,
  limits: ReadLimits,
): { value?: unknown; problems: FileProblem[] } {
  const read = readBounded(file, limits.maxBytes);
  if (read.text === undefined) return { problems: inFile(file, read.problems) };
  return parseBoundedYaml(file, read.text, limits);
}

function parseBoundedYaml(
  file: string,
  text: string,
  limits: ReadLimits,
): { value?: unknown; problems: FileProblem[] } {
  const tooLong =
    limits.maxListItems === undefined ? [] : listItemProblems(text, limits.maxListItems);
  if (tooLong.length > 0) return { problems: inFile(file, tooLong) };
  const parsed = parseYamlText(text, limits.expected);
  return { value: parsed.value, problems: inFile(file, parsed.problems) };
}

/** An input format: how its files are read, its schema, and what the schema cannot say. */
export interface InputFormat<T> extends ReadLimits {
  /** Names the format where a checked document is handed to another process (CheckedInput). */
  name: string;
  schema: AnySchema;
  /**
   * Checks a schema cannot express. They run in the same pass as the schema, so on a document
   * the schema refused they see values of any shape; a check that throws on one is skipped.
   */
  semantic?: (document: T) => Problem[];
}

/**
 * Schema and semantic problems of a parsed document, all at once. A semantic problem at or
 * under a key the schema already refused is left out: it would restate the same mistake.
 */
export function documentProblems<T>(document: unknown, format: InputFormat<T>): Problem[] {
  const problems = schemaProblems(format.schema, document);
  if (!format.semantic) return problems;
  let semantic: Problem[];
  if (problems.length === 0) semantic = format.semantic(document as T);
  else {
    try {
      semantic = format.semantic(document as T);
    } catch {
      semantic = [];
    }
  }
  return [...problems, ...notRestated(problems, semantic)];
}

/**
 * The semantic problems that are not at or under a key the schema already refused (they
 * would restate the same mistake).
 */
export function notRestated<P extends Problem>(schema: Problem[], semantic: P[]): P[] {
  const refused = schema.map((p) => formatKeyPath(p.path));
  return semantic.filter((p) => !refused.some((r) => isAtOrUnder(formatKeyPath(p.path), r)));
}

function isAtOrUnder(key: string, ancestor: string): boolean {
  return key === ancestor || key.startsWith(`${ancestor}.`) || key.startsWith(`${ancestor}[`);
}

/**
 * Runs semantic checks one by one in the pass after the schema: on a document the schema
 * refused, a check that meets a value of the wrong shape is skipped and the others still
 * report. An InputError (another file's problems) always goes through.
 */
export function checkRunner(schema: Problem[]): (run: () => void) => void {
  return (run) => {
    try {
      run();
    } catch (err) {
      if (schema.length === 0 || err instanceof InputError) throw err;
    }
  };
}

/** Whether the schema refused a key at or under `path`: a check reading it is skipped. */
export function refusedBy(schema: Problem[]): (path: KeyPath) => boolean {
  const refused = schema.map((p) => formatKeyPath(p.path));
  return (path) => refused.some((r) => isAtOrUnder(r, formatKeyPath(path)));
}

/**
 * Reads, parses and checks a file of one format: every problem, and the document when it
 * parsed (valid only when there are no problems; a caller may look into it for more checks).
 */
export function readInput<T>(
  file: string,
  format: InputFormat<T>,
): { value?: T; problems: FileProblem[] } {
  const read = readBounded(file, format.maxBytes);
  if (read.text === undefined) return { problems: inFile(file, read.problems) };
  const key = checkedKey(format.name, file);
  const digest = createHash("sha256").update(read.text).digest("hex");
  const known = checked.get(key);
  // A copy: callers may build on the document they get.
  if (known?.digest === digest) return { value: structuredClone(known.value) as T, problems: [] };
  const parsed = parseBoundedYaml(file, read.text, format);
  if (parsed.problems.length > 0) return { problems: parsed.problems };
  const problems = inFile(file, documentProblems(parsed.value, format));
  if (problems.length === 0) {
    checked.set(key, {
      format: format.name,
      file: resolve(file),
      digest,
      value: structuredClone(parsed.value),
    });
  }
  return { value: parsed.value as T, problems };
}

/**
 * A document that passed every check of its format, by the digest of the bytes it was read
 * from. A big site's inventory takes half a second to parse and check, and one evaluation
 * reads it up to three times (the CLI validating every stack, the worker loading the stack,
 * the program loading it as `pulumi up` does), and again for every traffic split over it.
 */
export interface CheckedInput {
  /** The format's name. */
  format: string;
  /** Absolute path. */
  file: string;
  /** sha256 of the bytes read, hex. */
  digest: string;
  value: unknown;
}

const checked = new Map<string, CheckedInput>();
const checkedKey = (format: string, file: string) => `${format}\0${resolve(file)}`;

/** What this process has checked: to hand to workers that will read the same files. */
export function checkedInputs(): CheckedInput[] {
  return [...checked.values()];
}

/**
 * Takes documents another process checked. Each is used only while its file still has the
 * digest it was checked at: a file changed since is read and checked again.
 */
export function rememberCheckedInputs(inputs: readonly CheckedInput[]): void {
  for (const input of inputs) checked.set(checkedKey(input.format, input.file), input);
}

/** Reads a file of one format; throws an InputError naming every problem. */
export function loadInput<T>(file: string, format: InputFormat<T>): T {
  const { value, problems } = readInput(file, format);
  assertNoFileProblems(problems);
  return value as T;
}

/** Files without a limit of their own: a stack file or a runbook is a few kilobytes. */
export const DEFAULT_MAX_BYTES = 1 << 20;

/** Reads a YAML file with no schema of its own (a file another format's check looks into). */
export function readYamlFile(
  file: string,
  expected: string,
  maxBytes = DEFAULT_MAX_BYTES,
): unknown {
  const { value, problems } = readYaml(file, { expected, maxBytes });
  assertNoFileProblems(problems);
  return value;
}
