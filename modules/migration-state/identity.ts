/**
 * Who approves, aborts, rolls back or abandons: `--by`, else $AVFLEET_BY, else the OS user.
 * Recorded in the journal and printed by `status`, so it must be one plain line: a newline or
 * control character could forge status lines, and "unknown" identifies nobody.
 */
import { userInfo } from "node:os";
import { InputError } from "../inputs/problems";

/** Letters, digits, and `. _ @ + -` between them (an email or a login), at most 64. */
const IDENTITY = /^[\p{L}\p{N}][\p{L}\p{N}._@+-]{0,63}$/u;

/** Pure: what is wrong with an identity, or undefined when it may be recorded. */
export function identityProblem(name: string): string | undefined {
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(name)) return "contains a newline or control character";
  if (name.length > 64) return `is ${name.length} characters long`;
  if (!IDENTITY.test(name)) return `is "${name}"`;
  return undefined;
}

/**
 * The name `avfleet rollout --help` once gave the variable (while the code read AVFLEET_BY):
 * still read, with a warning, until the release after next (CHANGELOG, #27 finding 8).
 */
const DEPRECATED_ENV = "AVFLEET_OPERATOR";

/** The validated identity from `--by`, the environment or the OS user; InputError when bad. */
export function operatorIdentity(
  by: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  osUser: () => string = () => userInfo().username,
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): string {
  const old = env[DEPRECATED_ENV];
  if (old) {
    warn(
      `avfleet: ${DEPRECATED_ENV} is deprecated and will be removed in the next release; set AVFLEET_BY` +
        (env.AVFLEET_BY ? ` (AVFLEET_BY is set, so ${DEPRECATED_ENV} is ignored)` : ""),
    );
  }
  const [source, name] =
    by !== undefined
      ? ["--by", by]
      : env.AVFLEET_BY
        ? ["AVFLEET_BY", env.AVFLEET_BY]
        : old
          ? [DEPRECATED_ENV, old]
          : ["the OS user", safe(osUser)];
  const problem = name === undefined ? "is not known" : identityProblem(name);
  if (problem !== undefined) {
    throw new InputError([
      `${source}: ${problem}, expected a login or email: letters, digits and . _ @ + - (at most 64)`,
    ]);
  }
  return name!;
}

function safe(read: () => string): string | undefined {
  try {
    return read();
  } catch {
    return undefined; // no passwd entry (a container's arbitrary uid)
  }
}
