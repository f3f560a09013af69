import { test } from "node:test";
import assert from "node:assert/strict";
import { InputError } from "../../modules/inputs/problems";
import { operatorIdentity } from "../../modules/migration-state/identity";

/** The identity and every warning line, from one environment. */
function identity(env: NodeJS.ProcessEnv, by?: string): { name: string; warnings: string[] } {
  const warnings: string[] = [];
  const name = operatorIdentity(
    by,
    env,
    () => "osuser",
    (line) => warnings.push(line),
  );
  return { name, warnings };
}

const DEPRECATED =
  "avfleet: AVFLEET_OPERATOR is deprecated and will be removed in the next release; set AVFLEET_BY";

test("AVFLEET_BY names who acts, then the OS user; no warning (#27 finding 8)", () => {
  assert.deepEqual(identity({ AVFLEET_BY: "alice" }), { name: "alice", warnings: [] });
  assert.deepEqual(identity({}), { name: "osuser", warnings: [] });
  assert.deepEqual(identity({ AVFLEET_BY: "alice" }, "bob"), { name: "bob", warnings: [] });
});

test("AVFLEET_OPERATOR still works for one release, with a deprecation warning on stderr", () => {
  assert.deepEqual(identity({ AVFLEET_OPERATOR: "olga" }), {
    name: "olga",
    warnings: [DEPRECATED],
  });
  // Both set: the one name wins, and the warning says the old one was ignored.
  assert.deepEqual(identity({ AVFLEET_BY: "alice", AVFLEET_OPERATOR: "olga" }), {
    name: "alice",
    warnings: [`${DEPRECATED} (AVFLEET_BY is set, so AVFLEET_OPERATOR is ignored)`],
  });
  // A bad value is refused under the name it came from.
  assert.throws(
    () => identity({ AVFLEET_OPERATOR: "eve\u0007" }),
    (err: unknown) =>
      err instanceof InputError &&
      err.lines[0].startsWith("AVFLEET_OPERATOR: contains a newline or control character"),
  );
});

test("the default warning goes to stderr as one line", () => {
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => (written.push(chunk), true)) as typeof write;
  try {
    assert.equal(operatorIdentity(undefined, { AVFLEET_OPERATOR: "olga" }), "olga");
  } finally {
    process.stderr.write = write;
  }
  assert.deepEqual(written, [`${DEPRECATED}\n`]);
});
