/**
 * Policy verdicts of both revisions' Plans, by this checkout's policies (modules/policy-runner):
 * which violations a change introduces and which it resolves.
 */
import type { Violation } from "../policy-runner/runner";

export type { Violation };

export interface VerdictChanges {
  introduced: Violation[];
  resolved: Violation[];
}

// A violation is the same one at both revisions when the same policy flags the same
// resource; its message may quote values that the change moved.
const identity = (v: Violation) => `${v.policy}\0${v.urn}`;

export function verdictChanges(before: Violation[], after: Violation[]): VerdictChanges {
  const had = new Set(before.map(identity));
  const has = new Set(after.map(identity));
  return {
    introduced: after.filter((v) => !had.has(identity(v))),
    resolved: before.filter((v) => !has.has(identity(v))),
  };
}
