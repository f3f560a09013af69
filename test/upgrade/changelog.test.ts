/**
 * CHANGELOG.md and upgrade-inputs tell the same story: every change that made a valid input
 * file invalid says what `upgrade-inputs` does about it, and every entry the command cites
 * (by title, in its "fix (CHANGELOG.md, …)" lines) is there, saying "rewrites" exactly when the
 * command rewrites it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CHANGELOG } from "../../modules/upgrade/catalogue";
import { ROOT } from "../support/cli";

const text = readFileSync(join(ROOT, "CHANGELOG.md"), "utf8");

/** The bullets of a `## ` section, each with its continuation lines. */
function bullets(heading: string): string[] {
  const start = text.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `section ${heading}`);
  const end = text.indexOf("\n## ", start + 1);
  return text
    .slice(start, end < 0 ? undefined : end)
    .split(/\n(?=- )/)
    .slice(1);
}

test("every input-file change of the Changelog says what upgrade-inputs does about it", () => {
  for (const heading of [
    "Input files a change made invalid",
    "Upgrading input files: `avfleet upgrade-inputs` (#27, part 2)",
  ]) {
    const listed = bullets(heading).filter((b) => !b.startsWith("- **New command"));
    assert.ok(listed.length > 0);
    for (const bullet of listed) {
      assert.match(bullet, /`upgrade-inputs`: /, bullet.split("\n")[0]);
    }
  }
});

test("each Changelog entry upgrade-inputs cites is there, and says rewrites when the command rewrites it", () => {
  // A title may wrap across lines of a bullet.
  const prose = text.replace(/\n +/g, " ");
  for (const entry of CHANGELOG) {
    const at = prose.indexOf(entry.title);
    assert.ok(at >= 0, `CHANGELOG.md has an entry titled ${entry.title}`);
    const bullet = prose.slice(prose.lastIndexOf("\n- ", at), prose.indexOf("\n- ", at + 1));
    const tag = /`upgrade-inputs`: (.*)/.exec(bullet)?.[1] ?? "";
    assert.equal(tag.startsWith("rewrites"), entry.rewrites, `${entry.title}: ${tag}`);
  }
});
