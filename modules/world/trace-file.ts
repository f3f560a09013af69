/**
 * Demand traces from files: a CSV of concurrent sessions per minute, as exported from
 * Prometheus (`time,sessions`, ISO 8601 times with a zone, one row per minute). Errors name the
 * file, line and column; nothing is replayed from a bad file. The file is read in chunks into
 * a buffer of at most MAX_TRACE_MINUTES values, so memory stays bounded whatever its size.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { InputError } from "../inputs/problems";
import { joinsFor, type Trace } from "./demand";

/** Eight weeks of minutes: far more than a replay needs. */
export const MAX_TRACE_MINUTES = 8 * 7 * 1440;
const MAX_FILE_BYTES = 64 * 1024 * 1024;
/**
 * Minutes a file may skip (a missed scrape or two), each held at the previous value; a longer
 * gap is refused: the replay cannot know what the pool carried meanwhile.
 */
export const MAX_GAP_MIN = 5;
/** Sessions one pool may plausibly carry in a minute: ten million (a thousand full hosts ×10). */
export const MAX_SESSIONS = 10_000_000;
const CHUNK_BYTES = 1 << 20;
// A date, a time to the minute or finer, and a zone: Z or ±hh:mm (no zone would mean local time).
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/;
// Decimal only: Number() would also read "0x4E20", "1e3" and "" (as 0).
const COUNT = /^\d+(\.\d+)?$/;

export interface TraceFile extends Trace {
  /** Minutes missing from the file, held at the previous value (each gap ≤ MAX_GAP_MIN). */
  filledMinutes: number;
  /** The first row's time, in minutes since the epoch (UTC). */
  firstMinute: number;
}

/** Calls `onLine` with each line of a file (without its CR LF), read CHUNK_BYTES at a time. */
function eachLine(file: string, onLine: (line: string) => void): void {
  const fd = openSync(file, "r");
  try {
    const buffer = Buffer.alloc(CHUNK_BYTES);
    // A character split between two chunks is decoded once both are read.
    const decoder = new StringDecoder("utf8");
    let rest = "";
    for (let n; (n = readSync(fd, buffer, 0, CHUNK_BYTES, null)) > 0;) {
      const text = rest + decoder.write(buffer.subarray(0, n));
      let start = 0;
      for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
        onLine(text.slice(start, text[nl - 1] === "\r" ? nl - 1 : nl));
        start = nl + 1;
      }
      rest = text.slice(start);
    }
    if (rest) onLine(rest);
  } finally {
    closeSync(fd);
  }
}

export function readTraceCsv(file: string, region: string, utcOffsetHours: number): TraceFile {
  const fail = (where: string, what: string, expected: string): never => {
    throw new InputError([`${file}: ${where}: ${what}, expected ${expected}`]);
  };
  let size = 0;
  try {
    size = statSync(file).size;
  } catch (err) {
    fail("(file)", `cannot be read (${(err as NodeJS.ErrnoException).code})`, "a readable file");
  }
  if (size > MAX_FILE_BYTES) fail("(file)", `is ${size} bytes`, `at most ${MAX_FILE_BYTES} bytes`);
  const values = new Float64Array(MAX_TRACE_MINUTES);
  let count = 0;
  let filled = 0;
  let first = NaN;
  let last = NaN;
  let lineNo = 0;
  eachLine(file, (line) => {
    lineNo++;
    const where = `line ${lineNo}`;
    if (lineNo === 1) {
      if (line.trim() !== "time,sessions")
        fail(where, `is "${line.slice(0, 40)}"`, "the header time,sessions");
      return;
    }
    if (line.length === 0 || line.trim() === "") return;
    const [time, sessions, ...extra] = line.split(",");
    if (extra.length)
      fail(
        `${where}, column 3`,
        `"${extra[0].slice(0, 20)}" is one column too many`,
        "two columns: time,sessions",
      );
    if (!TIME.test(time))
      fail(
        `${where}, column time`,
        `"${time.slice(0, 40)}" is not an ISO 8601 time with a zone`,
        "e.g. 2026-11-02T00:00:00Z or 2026-11-02T01:00:00+01:00",
      );
    const t = Date.parse(time);
    if (Number.isNaN(t))
      fail(`${where}, column time`, `"${time}" is not a date`, "a real calendar time");
    if (sessions === undefined || !COUNT.test(sessions.trim()))
      fail(
        `${where}, column sessions`,
        `"${(sessions ?? "").slice(0, 20)}" is not a count`,
        "a decimal number ≥ 0",
      );
    const n = Number(sessions);
    if (n > MAX_SESSIONS)
      fail(`${where}, column sessions`, `${sessions} sessions`, `at most ${MAX_SESSIONS} per pool`);
    const minute = Math.floor(t / 60000);
    if (Number.isNaN(first)) first = minute;
    else if (minute <= last)
      fail(
        where,
        `time ${time} is not after the previous row`,
        "rows in time order, one per minute",
      );
    else if (minute - last - 1 > MAX_GAP_MIN)
      fail(
        where,
        `${minute - last - 1} minutes missing before ${time}`,
        `gaps of at most ${MAX_GAP_MIN} minutes`,
      );
    if (minute - first >= MAX_TRACE_MINUTES)
      fail(where, `is past ${MAX_TRACE_MINUTES} minutes`, "a trace of at most 8 weeks");
    for (let m = last + 1; m < minute; m++, filled++, count++) values[count] = values[count - 1];
    values[count++] = n;
    last = minute;
  });
  if (count < 1440) fail("(file)", `has ${count} minutes`, "at least one day of minutes");
  const sessions = values.slice(0, count);
  return {
    region,
    utcOffsetHours,
    sessions,
    joins: joinsFor(sessions),
    events: [],
    filledMinutes: filled,
    firstMinute: first,
  };
}
