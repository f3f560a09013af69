/**
 * The pairs `avfleet place rtt --pairs FILE.csv` prices: a CSV (RFC 4180: comma-separated,
 * fields optionally in double quotes with "" for a quote, CRLF or LF line ends) with a header
 * naming its columns among from, to (a point of the RTT files) and from_lat, from_lon, to_lat,
 * to_lon (decimal degrees). Each end of each row is a name or a latitude and longitude, never
 * both or neither. Every problem is reported as `<file>: line N: …, expected …`; nothing is
 * priced from a file with one. Unlike RFC 4180 §2.4 (spaces are part of a field), spaces around
 * a field are trimmed: no region name or coordinate holds one, and `a, b` is a common way to
 * write a pair. RFC 4180: https://www.rfc-editor.org/rfc/rfc4180#section-2.
 */
import { readFileSync, statSync } from "node:fs";
import { InputError } from "../inputs/problems";
import type { Point } from "./geo";

const MAX_FILE_BYTES = 8 * 1024 * 1024;
const MAX_PAIRS = 100_000;
/** A bad file is usually bad on every line: the first ones say enough. */
const MAX_REPORTED = 20;
const COLUMNS = ["from", "to", "from_lat", "from_lon", "to_lat", "to_lon"] as const;
type Column = (typeof COLUMNS)[number];
/** Plain decimals only: no exponent, hex, or the empty string Number() reads as 0. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

export interface Endpoint extends Point {
  /** The point's name when the row named it. */
  name?: string;
}

export interface PricedPairInput {
  line: number;
  from: Endpoint;
  to: Endpoint;
}

/** Splits CSV text into records of fields (RFC 4180 §2), with the line each record starts on. */
function records(text: string, fail: (line: number, what: string, expected: string) => void) {
  const out: { line: number; fields: string[] }[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const start = line;
    const fields: string[] = [];
    for (;;) {
      let field = "";
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) {
            fail(start, "has a quoted field that never closes", 'a closing "');
            return out;
          }
          if (text[i] === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (text[i] === "\n") line++;
          field += text[i++];
        }
        if (i < text.length && text[i] !== "," && text[i] !== "\n" && text[i] !== "\r") {
          fail(start, "has text after a closing quote", "a comma or the end of the line");
          while (i < text.length && text[i] !== "\n") i++;
        }
      } else {
        while (i < text.length && text[i] !== "," && text[i] !== "\n" && text[i] !== "\r") {
          field += text[i++];
        }
      }
      fields.push(field);
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "\r") i++;
      if (text[i] === "\n") {
        i++;
        line++;
      }
      break;
    }
    out.push({ line: start, fields });
  }
  return out;
}

export function readPairsCsv(file: string, known: Map<string, Point>): PricedPairInput[] {
  const problems: string[] = [];
  const fail = (line: number | string, what: string, expected: string) => {
    problems.push(
      `${file}: ${typeof line === "number" ? `line ${line}` : line}: ${what}, expected ${expected}`,
    );
  };
  const stop = () => {
    const extra = problems.length - MAX_REPORTED;
    throw new InputError([
      ...problems.slice(0, MAX_REPORTED),
      ...(extra > 0 ? [`${file}: … and ${extra} more problems`] : []),
    ]);
  };
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    fail(
      "(file)",
      `cannot be read (${(err as NodeJS.ErrnoException).code})`,
      "a readable CSV file",
    );
    return stop();
  }
  if (size > MAX_FILE_BYTES) {
    fail("(file)", `is ${size} bytes`, `at most ${MAX_FILE_BYTES} bytes`);
    return stop();
  }
  const text = readFileSync(file, "utf8").replace(/^\uFEFF/, "");
  const rows = records(text, fail);
  if (problems.length) return stop();
  const [header, ...body] = rows;
  const columns = header?.fields.map((f) => f.trim()) ?? [];
  const index = new Map<Column, number>();
  columns.forEach((name, i) => {
    if (!(COLUMNS as readonly string[]).includes(name))
      fail(1, `column ${i + 1} is "${name}"`, `a header of columns among ${COLUMNS.join(", ")}`);
    else if (index.has(name as Column)) fail(1, `names column ${name} twice`, "each column once");
    else index.set(name as Column, i);
  });
  for (const end of ["from", "to"] as const) {
    const byName = index.has(end);
    const lat = index.has(`${end}_lat`);
    const lon = index.has(`${end}_lon`);
    if (lat !== lon)
      fail(
        1,
        `has ${lat ? `${end}_lat` : `${end}_lon`} without ${lat ? `${end}_lon` : `${end}_lat`}`,
        "both or neither",
      );
    else if (!byName && !lat)
      fail(1, `has no column for the "${end}" end`, `${end}, or ${end}_lat and ${end}_lon`);
  }
  if (problems.length) return stop();
  if (body.length === 0) fail("(file)", "has no rows", "at least one pair after the header");
  if (body.length > MAX_PAIRS) fail("(file)", `has ${body.length} rows`, `at most ${MAX_PAIRS}`);
  if (problems.length) return stop();

  const examples = [...known.keys()].slice(0, 6).join(", ");
  const pairs: PricedPairInput[] = [];
  for (const { line, fields } of body) {
    if (fields.length === 1 && fields[0] === "") {
      fail(line, "is empty", "a pair on every line");
      continue;
    }
    if (fields.length !== columns.length) {
      fail(
        line,
        `has ${fields.length} field${fields.length === 1 ? "" : "s"}`,
        `${columns.length}, as the header (${columns.join(",")})`,
      );
      continue;
    }
    const cell = (c: Column) => (index.has(c) ? fields[index.get(c)!].trim() : "");
    const endpoint = (end: "from" | "to"): Endpoint | undefined => {
      const name = cell(end);
      const lat = cell(`${end}_lat`);
      const lon = cell(`${end}_lon`);
      if (name && (lat || lon)) {
        fail(line, `gives "${end}" both a name and coordinates`, "one or the other");
        return undefined;
      }
      if (name) {
        const point = known.get(name);
        if (!point)
          fail(
            line,
            `${end} "${name}" is not a point of the RTT files`,
            `a region name (e.g. ${examples}) or ${end}_lat/${end}_lon`,
          );
        return point && { name, ...point };
      }
      if (!lat && !lon) {
        fail(
          line,
          `has nothing for "${end}"`,
          `${index.has(end) ? `a name in ${end}` : ""}${index.has(end) && index.has(`${end}_lat`) ? " or " : ""}${index.has(`${end}_lat`) ? `${end}_lat and ${end}_lon` : ""}`,
        );
        return undefined;
      }
      const coordinate = (column: Column, text: string, bound: number) => {
        const value = Number(text);
        if (!DECIMAL.test(text) || Math.abs(value) > bound) {
          fail(
            line,
            `${column} is "${text.slice(0, 40)}"`,
            `decimal degrees in −${bound}…${bound}`,
          );
          return undefined;
        }
        return value;
      };
      const la = coordinate(`${end}_lat`, lat, 90);
      const lo = coordinate(`${end}_lon`, lon, 180);
      return la === undefined || lo === undefined ? undefined : { lat: la, lon: lo };
    };
    const from = endpoint("from");
    const to = endpoint("to");
    if (from && to) pairs.push({ line, from, to });
  }
  if (problems.length) return stop();
  return pairs;
}
