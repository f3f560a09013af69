/**
 * `scale replay --demand` CSVs (#28) from the previous reader, which took any count `Number()`
 * reads and ignored columns past the second. What it read the same way every time is
 * rewritten: a hexadecimal or exponent count as its decimal value, a third column dropped.
 * What depended on the machine or filled in data (a time without a zone, read in local time;
 * an empty count, read as 0; a negative one; a long gap, forward-filled) is left to the
 * loader to report.
 */
import { InputError } from "../inputs/problems";
import { readTraceCsv } from "../world/trace-file";
import { entryTitled } from "./catalogue";
import type { Change } from "./rewrite";

export const HEADER = "time,sessions";
const ENTRY = entryTitled("`scale replay --demand` CSVs that were read before are refused").title;
/** What the old reader's Number() took that the new one refuses and reads the same. */
const OLD_COUNT = /^\s*(0[xX][0-9a-fA-F]+|\d+(\.\d+)?[eE][+]?\d+)\s*$/;

export function rewriteDemandCsv(text: string): { text: string; changes: Change[] } {
  const changes: Change[] = [];
  const lines = text.split("\n").map((raw, i) => {
    if (i === 0) return raw;
    const cr = raw.endsWith("\r") ? "\r" : "";
    const line = cr ? raw.slice(0, -1) : raw;
    const [time, sessions, ...extra] = line.split(",");
    if (sessions === undefined) return raw;
    let count = sessions;
    if (OLD_COUNT.test(sessions)) {
      const value = Number(sessions);
      // An exponent may name a fraction the old reader kept; only whole counts are exact.
      if (Number.isSafeInteger(value)) {
        count = String(value);
        changes.push({
          path: `line ${i + 1}, column sessions`,
          from: sessions,
          to: count,
          entry: ENTRY,
        });
      }
    }
    if (extra.length > 0) {
      changes.push({
        path: `line ${i + 1}, column 3`,
        from: extra.join(","),
        to: "(removed)",
        entry: ENTRY,
      });
    }
    return count === sessions && extra.length === 0 ? raw : `${time},${count}${cr}`;
  });
  return { text: lines.join("\n"), changes };
}

/** What the current reader refuses in a (rewritten) demand CSV: its first problem. */
export function demandCsvProblem(
  file: string,
): { path: string; message: string; expected: string } | undefined {
  try {
    readTraceCsv(file, "upgrade", 0);
    return undefined;
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    const line = err.lines[0].slice(file.length + 2);
    const [, path, message, expected] = /^(.*?): (.*), expected (.*)$/.exec(line) ?? [
      "",
      "(file)",
      line,
      "a demand CSV the current reader takes",
    ];
    return { path, message, expected };
  }
}
