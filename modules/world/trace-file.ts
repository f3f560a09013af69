/**
 * Demand traces from files: a CSV of concurrent sessions per minute, as exported from
 * Prometheus (`time,sessions`, ISO 8601 times, one row per minute; a missing minute holds the
 * previous value). Errors name the file and line, and nothing is replayed from a bad file.
 */
import { readFileSync, statSync } from "node:fs";
import { InputError } from "../config/validate";
import { joinsFor, type Trace } from "./demand";

/** Eight weeks of minutes: far more than a replay needs, small enough to read at once. */
export const MAX_TRACE_MINUTES = 8 * 7 * 1440;
const MAX_FILE_BYTES = 64 * 1024 * 1024;
const EXPECTED = "a CSV with a header time,sessions and one row per minute";

export function readTraceCsv(file: string, region: string, utcOffsetHours: number): Trace {
  const fail = (where: string, what: string, expected = EXPECTED): never => {
    throw new InputError([`${file}: ${where}: ${what}, expected ${expected}`]);
  };
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    return fail("(file)", `cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  if (size > MAX_FILE_BYTES) fail("(file)", `is ${size} bytes`, `at most ${MAX_FILE_BYTES} bytes`);
  const lines = readFileSync(file, "utf8").split(/\r?\n/);
  if (lines[0]?.trim() !== "time,sessions")
    fail("line 1", `is "${lines[0]?.slice(0, 40)}"`, "the header time,sessions");
  const values: number[] = [];
  let first = NaN;
  let last = NaN;
  lines.slice(1).forEach((line, i) => {
    if (line.trim() === "") return;
    const where = `line ${i + 2}`;
    const [time, sessions, extra] = line.split(",");
    const t = Date.parse(time);
    if (!/^\d{4}-\d\d-\d\dT/.test(time) || Number.isNaN(t))
      fail(where, `time "${time}" is not a date`, "an ISO 8601 time like 2026-11-02T00:00:00Z");
    const n = Number(sessions);
    if (extra !== undefined || sessions === undefined || !Number.isFinite(n) || n < 0) {
      fail(where, `sessions "${sessions}" is not a count`, "a number ≥ 0");
    }
    const minute = Math.floor(t / 60000);
    if (Number.isNaN(first)) first = minute;
    else if (minute <= last)
      fail(
        where,
        `time ${time} is not after the previous row`,
        "rows in time order, one per minute",
      );
    if (minute - first >= MAX_TRACE_MINUTES)
      fail(where, `is past ${MAX_TRACE_MINUTES} minutes`, "a trace of at most 8 weeks");
    for (let m = last + 1; m < minute; m++) values.push(values[values.length - 1]);
    values.push(n);
    last = minute;
  });
  if (values.length < 1440)
    fail("(file)", `has ${values.length} minutes`, "at least one day of minutes");
  const sessions = Float64Array.from(values);
  return { region, utcOffsetHours, sessions, joins: joinsFor(sessions), events: [] };
}
