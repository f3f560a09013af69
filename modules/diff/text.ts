/**
 * A changed script or boot payload as a reviewer reads it: decoded where avfleet rendered an
 * encoding (a payload's base64 heredocs, AWS user data's gzip+base64), what it changes in a few
 * words (`avfleet-sfu 2.4.1-1 → 2.4.2-1`, `net.core.rmem_max 12582912 → 16777216`), then a
 * unified diff with a few lines of context. Pure.
 */
import { gunzipSync } from "node:zlib";

/** Lines of context around each change, as `diff -u` gives by default. */
export const CONTEXT_LINES = 3;

const BASE64_TEXT = /^[A-Za-z0-9+/\n]+={0,2}\n?$/;

/** Bytes as text when they are text: UTF-8 that round-trips and holds no control characters. */
function asText(bytes: Buffer): string | undefined {
  const text = bytes.toString("utf8");
  if (!Buffer.from(text, "utf8").equals(bytes)) return undefined;
  return /[\x00-\x08\x0e-\x1f]/.test(text) ? undefined : text;
}

/**
 * The text a value carries, and how it was encoded: a whole value of gzip+base64 (AWS user data:
 * modules/host/bootstrap.ts awsUserData) decodes when it gives text; base64
 * heredocs inside a script (`base64 -d <<'END'`, how a bare-metal payload installs each file:
 * modules/host-payloads/metal-payload.ts installLines) show the file they install.
 */
export function decodeRendered(value: string): { text: string; encoding?: string } {
  // "H4sI" is gzip's magic number and method (1f 8b 08) in base64: nothing else is tried whole.
  if (value.startsWith("H4sI") && BASE64_TEXT.test(value)) {
    let text: string | undefined;
    try {
      text = asText(gunzipSync(Buffer.from(value, "base64")));
    } catch {
      text = undefined;
    }
    if (text !== undefined) return { text, encoding: "gzip+base64" };
  }
  const lines = value.split("\n");
  const out: string[] = [];
  let decoded = false;
  for (let i = 0; i < lines.length; i++) {
    out.push(lines[i]);
    const end = /\bbase64 -d <<'([A-Za-z0-9_]+)'/.exec(lines[i])?.[1];
    const close = end === undefined ? -1 : lines.indexOf(end, i + 1);
    if (close < 0) continue;
    const text = asText(Buffer.from(lines.slice(i + 1, close).join(""), "base64"));
    if (text === undefined) continue;
    out.push(
      ...text
        .replace(/\n$/, "")
        .split("\n")
        .map((l) => `  | ${l}`),
      end!,
    );
    decoded = true;
    i = close;
  }
  return decoded ? { text: out.join("\n"), encoding: "base64 heredocs" } : { text: value };
}

export type Edit = { op: " " | "-" | "+"; line: string };

/** Most edits the line diff looks for before it shows the rest as removed, then added. */
const MAX_EDITS = 4000;

/**
 * The shortest edit script from `a` to `b` (Myers, "An O(ND) Difference Algorithm", 1986),
 * removals before additions where both are at one place, as `diff -u` orders them.
 */
export function lineEdits(a: string[], b: string[]): Edit[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const head = a.slice(0, start).map((line): Edit => ({ op: " ", line }));
  const tail = a.slice(endA).map((line): Edit => ({ op: " ", line }));
  const x = a.slice(start, endA);
  const y = b.slice(start, endB);
  return [...head, ...middleEdits(x, y), ...tail];
}

function middleEdits(a: string[], b: string[]): Edit[] {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_EDITS);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max && found < 0; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1])
          ? v[offset + k + 1]
          : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) {
    return [
      ...a.map((line): Edit => ({ op: "-", line })),
      ...b.map((line): Edit => ({ op: "+", line })),
    ];
  }
  // Walk back from the end through each d's furthest points.
  const edits: Edit[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const prev = trace[d];
    const k = x - y;
    const down = k === -d || (k !== d && prev[offset + k - 1] < prev[offset + k + 1]);
    const prevK = down ? k + 1 : k - 1;
    const prevX = prev[offset + prevK];
    const same = (until: number) => {
      while (x > until) {
        edits.push({ op: " ", line: a[--x] });
        y--;
      }
    };
    same(prevX + (down ? 0 : 1));
    if (down) edits.push({ op: "+", line: b[--y] });
    else edits.push({ op: "-", line: a[--x] });
  }
  while (x > 0) {
    edits.push({ op: " ", line: a[--x] });
    y--;
  }
  return orderHunks(edits.reverse());
}

/** Within each run of changes, every removal first: `diff -u`'s order. */
function orderHunks(edits: Edit[]): Edit[] {
  const out: Edit[] = [];
  let run: Edit[] = [];
  const flush = () => {
    out.push(...run.filter((e) => e.op === "-"), ...run.filter((e) => e.op === "+"));
    run = [];
  };
  for (const e of edits) {
    if (e.op === " ") {
      flush();
      out.push(e);
    } else run.push(e);
  }
  flush();
  return out;
}

/** Unified-diff lines: `@@ -a,b +c,d @@` hunks of the edits with CONTEXT_LINES around them. */
export function unifiedLines(edits: Edit[]): string[] {
  const changed = edits.flatMap((e, i) => (e.op === " " ? [] : [i]));
  const out: string[] = [];
  let i = 0;
  while (i < changed.length) {
    const from = Math.max(0, changed[i] - CONTEXT_LINES);
    let to = changed[i];
    while (i < changed.length && changed[i] <= to + 2 * CONTEXT_LINES) to = changed[i++];
    to = Math.min(edits.length - 1, to + CONTEXT_LINES);
    const before = edits.slice(0, from);
    const startA = before.filter((e) => e.op !== "+").length + 1;
    const startB = before.filter((e) => e.op !== "-").length + 1;
    const hunk = edits.slice(from, to + 1);
    const lengthA = hunk.filter((e) => e.op !== "+").length;
    const lengthB = hunk.filter((e) => e.op !== "-").length;
    // An empty side starts at the line before the hunk, as diff -u writes it (-0,0).
    const at = (start: number, length: number) => `${length ? start : start - 1},${length}`;
    out.push(`@@ -${at(startA, lengthA)} +${at(startB, lengthB)} @@`);
    out.push(...hunk.map((e) => `${e.op}${e.line}`));
  }
  return out;
}

/** `key = value` (sysctl.d, ini, env files) and `key: value`. */
const SETTING = /^\s*(?:\|\s*)?([A-Za-z_][\w.\-/]*)\s*[=:]\s*(\S.*?)\s*$/;
/** A pinned package, as apt takes it: `avfleet-sfu=2.4.1-1`. */
const PACKAGE = /(?:^|[\s'"=])([a-z0-9][a-z0-9+.-]+)=(\d[A-Za-z0-9.+~:-]*)(?=$|[\s'"])/g;

function settings(lines: string[]): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const add = (key: string, value: string) =>
    found.set(key, (found.get(key) ?? new Set()).add(value));
  for (const line of lines) {
    for (const m of line.matchAll(PACKAGE)) add(m[1], m[2]);
    const s = SETTING.exec(line);
    if (s && !/^\s*(?:\|\s*)?#/.test(line) && !PACKAGE.test(line)) add(s[1], s[2]);
    PACKAGE.lastIndex = 0;
  }
  return found;
}

/**
 * What the change does, in reviewer's words: each setting or pinned package whose one value
 * became another, was added or removed, in the order the edits meet them.
 */
export function semanticChanges(edits: Edit[]): string[] {
  const removed = settings(edits.filter((e) => e.op === "-").map((e) => e.line));
  const added = settings(edits.filter((e) => e.op === "+").map((e) => e.line));
  const one = (s?: Set<string>) => (s?.size === 1 ? [...s][0] : undefined);
  const out: string[] = [];
  for (const key of new Set([...removed.keys(), ...added.keys()])) {
    const [before, after] = [one(removed.get(key)), one(added.get(key))];
    if (before !== undefined && after !== undefined && before !== after) {
      out.push(`${key} ${before} → ${after}`);
    } else if (before === undefined && after !== undefined && !removed.has(key)) {
      out.push(`${key} ${after} (added)`);
    } else if (after === undefined && before !== undefined && !added.has(key)) {
      out.push(`${key} ${before} (removed)`);
    }
  }
  return [...new Set(out)];
}

export interface TextChange {
  /** How the values were encoded, when they were decoded to be read. */
  encoding?: string;
  summary: string[];
  /** Unified-diff lines. */
  lines: string[];
}

/** A changed multi-line string (absent before: every line added). */
export function textChange(before: string | undefined, after: string | undefined): TextChange {
  const [a, b] = [before, after].map((v) => (v === undefined ? undefined : decodeRendered(v)));
  const split = (t?: { text: string }) => (t === undefined ? [] : t.text.split("\n"));
  const edits = lineEdits(split(a), split(b));
  const encoding = a?.encoding ?? b?.encoding;
  return {
    ...(encoding ? { encoding } : {}),
    // A new script is all additions: its settings are its lines, not a change to sum up.
    summary: a && b ? semanticChanges(edits) : [],
    lines: unifiedLines(edits),
  };
}
