/**
 * The one way every input format (stack file, inventory, runbook, tuning facts, and any format
 * added later) is read and checked: a size limit before parsing, YAML parsed with explicit
 * limits, then the format's JSON Schema and its semantic checks in one pass, with every problem
 * reported at once, sorted by file and key path, as `<file>: <key path>: <what is wrong>,
 * expected <what>` (or `<file>: <line>:<col>: …` where the YAML itself is wrong).
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import Ajv, { type ErrorObject, type AnySchema } from "ajv";
import addFormats from "ajv-formats";
import { inDurationRange, type DurationRange } from "./duration";
import { isCidr } from "./net";
import {
  assertNoFileProblems,
  formatKeyPath,
  inFile,
  InputError,
  type FileProblem,
  type KeyPath,
  type Problem,
} from "./problems";
import { parseBoundedYaml, readBounded, type ReadLimits } from "./yaml-read";

const ajv = new Ajv({
  allErrors: true,
  strict: true,
  // A discriminated oneOf names its tag in `required` beside the branches that define it.
  strictRequired: false,
  // Defaults live in the schemas, so a loaded document is complete and its FromSchema type
  // can treat defaulted keys as present.
  useDefaults: true,
  verbose: true,
  discriminator: true,
  allowUnionTypes: true,
});
addFormats(ajv, ["ipv4", "ipv6", "hostname", "uri", "email"]);
ajv.addFormat("cidr", { type: "string", validate: isCidr });
ajv.addKeyword({
  keyword: "durationRange",
  type: "string",
  schemaType: "object",
  validate: (range: DurationRange, data: string) => inDurationRange(range, data),
});

const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();

/** YAML's spelling of the numbers JSON has none for (`.inf`, `-.inf`, `.nan`; `1e400` is `.inf`). */
function nonFinite(value: number): string {
  return Number.isNaN(value) ? ".nan" : value > 0 ? ".inf" : "-.inf";
}

function show(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (typeof value === "number" && !Number.isFinite(value)) return nonFinite(value);
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${show(value)}`;
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** What a (sub)schema accepts, in words, for "expected …". */
export function describeSchema(schema: unknown): string {
  if (typeof schema !== "object" || schema === null) return "a value";
  const s = schema as Record<string, unknown>;
  if (typeof s.description === "string") {
    // "a CPU count" does not say that 2.5 is wrong; "an integer" does.
    return s.type === "integer" && !/integer/.test(s.description)
      ? `${s.description} (an integer)`
      : s.description;
  }
  if (s.type === "integer") return "an integer";
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => show(v)).join(" | ")}`;
  if (s.type === "object") return "a mapping";
  if (s.type === "array") return "a list";
  if (typeof s.type === "string") return `a ${s.type}`;
  return "a value";
}

/**
 * The keys a missing mapping must have, in words, or undefined when it has none: its
 * description lists every key, and a newcomer writing it from the error needs to know which
 * they may leave out. A key required unless another is present (`if`/`else`) reads as "a or b".
 */
function requiredKeys(schema: unknown): string | undefined {
  const s = (schema ?? {}) as {
    required?: string[];
    if?: { required?: string[] };
    else?: { required?: string[] };
  };
  const keys = [...(s.required ?? [])];
  if (s.if?.required && s.else?.required) {
    keys.push([...s.else.required, ...s.if.required].join(" or "));
  }
  return keys.length > 1 ? keys.join(", ") : undefined;
}

function problemFromAjv(error: ErrorObject): Problem | undefined {
  const path = pointerToPath(error.instancePath);
  const data = error.data;
  const schema = error.parentSchema as Record<string, unknown> | undefined;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required": {
      const key = String(params.missingProperty);
      const props = (schema?.properties ?? {}) as Record<string, unknown>;
      const required = requiredKeys(props[key]);
      const expected = describeSchema(props[key]);
      return {
        path: [...path, key],
        message: "is missing",
        expected: required ? `${expected}, of which ${required} are required` : expected,
      };
    }
    case "additionalProperties": {
      const known = Object.keys((schema?.properties ?? {}) as object);
      return {
        path: [...path, String(params.additionalProperty)],
        message: "is not a known key",
        expected: known.length ? `one of ${known.join(", ")}` : "no keys here",
      };
    }
    case "discriminator": {
      const tag = String(params.tag);
      const allowed = ((schema?.oneOf ?? []) as Record<string, any>[])
        .map((branch) => branch.properties?.[tag]?.const)
        .filter((v) => v !== undefined);
      const value = (data as Record<string, unknown> | undefined)?.[tag];
      return {
        path: [...path, tag],
        message: value === undefined ? "is missing" : `is ${show(value)}`,
        expected: `one of ${allowed.join(" | ")}`,
      };
    }
    case "type":
      return { path, message: `is ${typeName(data)}`, expected: describeSchema(schema) };
    case "minimum":
    case "exclusiveMinimum":
    case "maximum":
    case "exclusiveMaximum": {
      const sign = { minimum: "≥", exclusiveMinimum: ">", maximum: "≤", exclusiveMaximum: "<" }[
        error.keyword
      ];
      const bound = `${sign} ${String(params.limit)}`;
      const described = typeof schema?.description === "string" ? `${schema.description}, ` : "";
      return { path, message: `is ${show(data)}`, expected: `${described}${bound}` };
    }
    case "durationRange": {
      const range = schema?.durationRange as DurationRange;
      const described = typeof schema?.description === "string" ? `${schema.description}, ` : "";
      return {
        path,
        message: `is ${show(data)}`,
        expected: `${described}from ${range.min} to ${range.max}`,
      };
    }
    case "minItems":
    case "minProperties": {
      // A list's description names its upper bound ("a list of at most 50000 hosts"), which
      // says nothing to the writer of an empty one.
      const least = Number(params.limit);
      const described = describeSchema(schema);
      const count = Array.isArray(data) ? data.length : Object.keys(data as object).length;
      return {
        path,
        message: count === 0 ? "is empty" : `has ${count}`,
        expected: / at most /.test(described)
          ? described.replace(/ at most /, ` at least ${least} and at most `)
          : least === 1 && /non-empty/.test(described)
            ? described
            : `${described}, with at least ${least} ${least === 1 ? "entry" : "entries"}`,
      };
    }
    case "pattern":
      // A pattern without a description would read "expected a value": show it. A key refused
      // by propertyNames is named at its own path, not its mapping's.
      return {
        path: error.propertyName === undefined ? path : [...path, error.propertyName],
        message: error.propertyName === undefined ? `is ${show(data)}` : "is not an allowed name",
        expected:
          typeof schema?.description === "string"
            ? schema.description
            : `a value matching ${String(params.pattern)}`,
      };
    case "if":
    case "propertyNames":
    case "oneOf":
    case "anyOf":
      return undefined; // the branch (or name) errors say what is wrong
    default:
      return { path, message: `is ${show(data)}`, expected: describeSchema(schema) };
  }
}

const FINITE = "a finite number";

function nonFiniteProblems(value: unknown, path: KeyPath = []): Problem[] {
  if (typeof value === "number" && !Number.isFinite(value)) {
    return [{ path, message: `is ${nonFinite(value)}`, expected: FINITE }];
  }
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, v]) =>
    nonFiniteProblems(v, [...path, Array.isArray(value) ? Number(key) : key]),
  );
}

/** Validates a parsed document against a JSON Schema; returns every problem. */
export function schemaProblems(
  schema: AnySchema,
  document: unknown,
  prefix: KeyPath = [],
): Problem[] {
  let validate = compiled.get(schema as object);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema as object, validate);
  }
  // JSON has no infinity or NaN, so ajv's messages about them would say "null": name them here
  // and let them stand for whatever else ajv says about the same key.
  const problems = nonFiniteProblems(document);
  if (validate(document) && problems.length === 0) return [];
  problems.push(
    ...(validate.errors ?? []).map(problemFromAjv).filter((p): p is Problem => p !== undefined),
  );
  // One problem per key: `100.5` is not an integer, and saying it is also above 100 is noise.
  const firstPerKey = new Map<string, Problem>();
  for (const p of problems) {
    const key = formatKeyPath(p.path);
    const first = firstPerKey.get(key);
    if (!first) firstPerKey.set(key, p);
    // `.inf` where a port goes: say what a port is rather than just "finite".
    else if (first.expected === FINITE && p.expected !== "a value" && p.expected !== FINITE)
      firstPerKey.set(key, { ...first, expected: p.expected.replace(/, [≤≥<>] .*$/, "") });
  }
  return [...firstPerKey.values()].map((p) => ({ ...p, path: [...prefix, ...p.path] }));
}

/** An input format: how its files are read, its schema, and what the schema cannot say. */
export interface InputFormat<T> extends ReadLimits {
  /** Names the format where a checked document is handed to another process (CheckedInput). */
  name: string;
  schema: AnySchema;
  /**
   * Checks a schema cannot express. They run in the same pass as the schema, so on a document
   * the schema refused they see values of any shape; a check that throws on one is skipped.
   */
  semantic?: (document: T) => Problem[];
}

/**
 * Schema and semantic problems of a parsed document, all at once. A semantic problem at or
 * under a key the schema already refused is left out: it would restate the same mistake.
 */
export function documentProblems<T>(document: unknown, format: InputFormat<T>): Problem[] {
  const problems = schemaProblems(format.schema, document);
  if (!format.semantic) return problems;
  let semantic: Problem[];
  if (problems.length === 0) semantic = format.semantic(document as T);
  else {
    try {
      semantic = format.semantic(document as T);
    } catch {
      semantic = [];
    }
  }
  return [...problems, ...notRestated(problems, semantic)];
}

/**
 * The semantic problems that are not at or under a key the schema already refused (they
 * would restate the same mistake).
 */
export function notRestated<P extends Problem>(schema: Problem[], semantic: P[]): P[] {
  const refused = schema.map((p) => formatKeyPath(p.path));
  return semantic.filter((p) => !refused.some((r) => isAtOrUnder(formatKeyPath(p.path), r)));
}

function isAtOrUnder(key: string, ancestor: string): boolean {
  return key === ancestor || key.startsWith(`${ancestor}.`) || key.startsWith(`${ancestor}[`);
}

/**
 * Runs semantic checks one by one in the pass after the schema: on a document the schema
 * refused, a check that meets a value of the wrong shape is skipped and the others still
 * report. An InputError (another file's problems) always goes through.
 */
export function checkRunner(schema: Problem[]): (run: () => void) => void {
  return (run) => {
    try {
      run();
    } catch (err) {
      if (schema.length === 0 || err instanceof InputError) throw err;
    }
  };
}

/** Whether the schema refused a key at or under `path`: a check reading it is skipped. */
export function refusedBy(schema: Problem[]): (path: KeyPath) => boolean {
  const refused = schema.map((p) => formatKeyPath(p.path));
  return (path) => refused.some((r) => isAtOrUnder(r, formatKeyPath(path)));
}

/**
 * Reads, parses and checks a file of one format: every problem, and the document when it
 * parsed (valid only when there are no problems; a caller may look into it for more checks).
 */
export function readInput<T>(
  file: string,
  format: InputFormat<T>,
): { value?: T; problems: FileProblem[] } {
  const read = readBounded(file, format.maxBytes);
  if (read.text === undefined) return { problems: inFile(file, read.problems) };
  const key = checkedKey(format.name, file);
  const digest = createHash("sha256").update(read.text).digest("hex");
  const known = checked.get(key);
  // A copy: callers may build on the document they get.
  if (known?.digest === digest) return { value: structuredClone(known.value) as T, problems: [] };
  const parsed = parseBoundedYaml(file, read.text, format);
  if (parsed.problems.length > 0) return { problems: parsed.problems };
  const problems = inFile(file, documentProblems(parsed.value, format));
  if (problems.length === 0) {
    checked.set(key, {
      format: format.name,
      file: resolve(file),
      digest,
      value: structuredClone(parsed.value),
    });
  }
  return { value: parsed.value as T, problems };
}

/**
 * A document that passed every check of its format, by the digest of the bytes it was read
 * from. A big site's inventory takes half a second to parse and check, and one evaluation
 * reads it up to three times (the CLI validating every stack, the worker loading the stack,
 * the program loading it as `pulumi up` does), and again for every traffic split over it.
 */
export interface CheckedInput {
  /** The format's name. */
  format: string;
  /** Absolute path. */
  file: string;
  /** sha256 of the bytes read, hex. */
  digest: string;
  value: unknown;
}

const checked = new Map<string, CheckedInput>();
const checkedKey = (format: string, file: string) => `${format}\0${resolve(file)}`;

/** What this process has checked: to hand to workers that will read the same files. */
export function checkedInputs(): CheckedInput[] {
  return [...checked.values()];
}

/**
 * Takes documents another process checked. Each is used only while its file still has the
 * digest it was checked at: a file changed since is read and checked again.
 */
export function rememberCheckedInputs(inputs: readonly CheckedInput[]): void {
  for (const input of inputs) checked.set(checkedKey(input.format, input.file), input);
}

/** Reads a file of one format; throws an InputError naming every problem. */
export function loadInput<T>(file: string, format: InputFormat<T>): T {
  const { value, problems } = readInput(file, format);
  assertNoFileProblems(problems);
  return value as T;
}
