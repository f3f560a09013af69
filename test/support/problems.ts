/** Writes an input file, loads it, and returns its problems without the file prefix. */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputError } from "../../modules/inputs/problems";

export function problemsLoading(
  load: (file: string) => unknown,
  fileName: string,
  text: string,
): string[] {
  const file = join(mkdtempSync(join(tmpdir(), "avfleet-input-")), fileName);
  writeFileSync(file, text);
  try {
    load(file);
  } catch (err) {
    assert.ok(err instanceof InputError, `expected InputError, got ${err}`);
    return err.lines.map((line) => line.replace(`${file}: `, ""));
  }
  assert.fail(`${fileName} was accepted`);
}
