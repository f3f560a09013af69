import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputError } from "../../modules/inputs/problems";
import { MAX_GAP_MIN, readTraceCsv } from "../../modules/world/trace-file";

const dir = mkdtempSync(join(tmpdir(), "avfleet-trace-"));
const START = Date.UTC(2026, 10, 2);
const row = (m: number, sessions: string | number = 1000) =>
  `${new Date(START + m * 60000).toISOString()},${sessions}`;
const day = () => Array.from({ length: 1440 }, (_, m) => row(m, 1000 + m));

function read(rows: string[]): ReturnType<typeof readTraceCsv> {
  const file = join(dir, "t.csv");
  writeFileSync(file, ["time,sessions", ...rows].join("\n"));
  return readTraceCsv(file, "us-west1", -8);
}

/** The one line a bad file gets, without the file name. */
function refusal(rows: string[]): string {
  try {
    read(rows);
  } catch (err) {
    assert.ok(err instanceof InputError);
    const [line, ...more] = (err as InputError).message.split("\n");
    assert.equal(more.length, 0, "one line");
    return line.slice(line.indexOf(": ") + 2);
  }
  assert.fail("the file was accepted");
}

test("a good file: one value per minute, blank lines and CRLF ignored, its first minute kept", () => {
  const rows = day();
  rows.splice(100, 0, "", "  ");
  rows[5] = `${rows[5]}\r`;
  const trace = read(rows);
  assert.equal(trace.sessions.length, 1440);
  assert.equal(trace.sessions[1439], 2439);
  assert.equal(trace.firstMinute, START / 60000);
  assert.equal(trace.filledMinutes, 0);
});

test("refused, each with its line and column: empty, hex, exponent and absurd values", () => {
  const with_ = (value: string) => {
    const rows = day();
    rows[9] = row(9, value);
    return refusal(rows);
  };
  assert.equal(
    with_(""),
    'line 11, column sessions: "" is not a count, expected a decimal number ≥ 0',
  );
  assert.equal(
    with_("0x4E20"),
    'line 11, column sessions: "0x4E20" is not a count, expected a decimal number ≥ 0',
  );
  assert.equal(
    with_("2e4"),
    'line 11, column sessions: "2e4" is not a count, expected a decimal number ≥ 0',
  );
  assert.equal(
    with_("-3"),
    'line 11, column sessions: "-3" is not a count, expected a decimal number ≥ 0',
  );
  assert.equal(
    with_("1000000000000"),
    "line 11, column sessions: 1000000000000 sessions, expected at most 10000000 per pool",
  );
  assert.equal(
    with_("20000000"),
    "line 11, column sessions: 20000000 sessions, expected at most 10000000 per pool",
  );
});

test("refused: a time without a zone (it would be read in the machine's local time)", () => {
  const rows = day();
  rows[3] = "2026-11-02T00:03:00,1000";
  assert.equal(
    refusal(rows),
    'line 5, column time: "2026-11-02T00:03:00" is not an ISO 8601 time with a zone, expected e.g. 2026-11-02T00:00:00Z or 2026-11-02T01:00:00+01:00',
  );
});

test("an extra column is named as the extra column, not blamed on the value", () => {
  const rows = day();
  rows[0] = `${row(0)},eu`;
  assert.equal(
    refusal(rows),
    'line 2, column 3: "eu" is one column too many, expected two columns: time,sessions',
  );
});

test(`gaps: up to ${MAX_GAP_MIN} missing minutes are held and counted; a longer gap is refused`, () => {
  const short = day().concat(Array.from({ length: 10 }, (_, i) => row(1440 + MAX_GAP_MIN + i)));
  const trace = read(short);
  assert.equal(trace.filledMinutes, MAX_GAP_MIN);
  assert.equal(trace.sessions.length, 1440 + MAX_GAP_MIN + 10);
  assert.equal(trace.sessions[1440], trace.sessions[1439]);
  // Six days missing: refused, not forward-filled.
  const long = day().concat([row(1440 + 6 * 1440)]);
  assert.equal(
    refusal(long),
    `line 1442: 8640 minutes missing before ${new Date(START + 7 * 1440 * 60000).toISOString()}, expected gaps of at most ${MAX_GAP_MIN} minutes`,
  );
});
