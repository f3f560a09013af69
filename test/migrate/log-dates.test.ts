/**
 * #27 finding 8: progress lines carry the date with the time, so a step that waits a day
 * (a 24 h soak) does not read as if it ended the minute it began.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { entryLine } from "../../modules/migrate/render";

test("a run's progress lines print an ISO 8601 date-time (UTC), not HH:MM", () => {
  const units = [{ id: "1" }, { id: "2" }];
  const begin = Date.UTC(2026, 11, 4, 9, 30, 5);
  const dayLater = begin + 24 * 3600_000;
  assert.equal(
    entryLine({ at: begin, type: "step-start", unit: "1", title: "soak 24h" }, units),
    "2026-12-04T09:30:05Z step 1/2: soak 24h",
  );
  assert.equal(
    entryLine({ at: dayLater, type: "step-start", unit: "2", title: "shift 25 %" }, units),
    "2026-12-05T09:30:05Z step 2/2: shift 25 %",
  );
});
