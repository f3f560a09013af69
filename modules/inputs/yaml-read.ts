/** Reading an input file within its limits: bytes, encoding, YAML with explicit limits. */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import * as jsyaml from "js-yaml";
import YAML, { LineCounter, Schema, isAlias, isScalar, type Node } from "yaml";
import { assertNoFileProblems, inFile, type FileProblem, type Problem } from "./problems";

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

export function readBounded(
  file: string,
  maxBytes: number,
): { text?: string; problems: Problem[] } {
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

export function parseBoundedYaml(
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
