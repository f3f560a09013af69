/**
 * The one way every input format (stack file, inventory, runbook, tuning facts) is parsed
 * and checked: YAML → ajv against that format's JSON Schema → semantic checks, with every
 * problem reported at once as `<file>: <key path>: <what is wrong>, expected <what>`.
 */
import { readFileSync } from "node:fs";
import Ajv, { type ErrorObject, type AnySchema } from "ajv";
import addFormats from "ajv-formats";
import YAML from "yaml";
import { isCidr } from "./net";

/** A key path inside a document: property names and array indexes. */
export type KeyPath = readonly (string | number)[];

/** One thing wrong with an input. */
export interface Problem {
  path: KeyPath;
  /** What is wrong, e.g. `is 80`. */
  message: string;
  /** What would be right, e.g. `a port in 1024–65535`. */
  expected: string;
}

/** Bad input: every problem found, already formatted. The CLI prints them and exits 2. */
export class InputError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join("\n"));
    this.name = "InputError";
  }
}

export function formatKeyPath(path: KeyPath): string {
  if (path.length === 0) return "(document)";
  return path
    .map((segment, i) =>
      typeof segment === "number" ? `[${segment}]` : i === 0 ? segment : `.${segment}`,
    )
    .join("");
}

export function formatProblem(file: string, problem: Problem): string {
  return `${file}: ${formatKeyPath(problem.path)}: ${problem.message}, expected ${problem.expected}`;
}

/** Throws an InputError when there are problems; the lines keep the order found. */
export function assertNoProblems(file: string, problems: Problem[]): void {
  if (problems.length > 0) {
    throw new InputError([...new Set(problems.map((p) => formatProblem(file, p)))]);
  }
}

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
addFormats(ajv, ["ipv4", "ipv6", "hostname", "uri"]);
ajv.addFormat("cidr", { type: "string", validate: isCidr });

const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();

function show(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
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
  if (typeof s.description === "string") return s.description;
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => show(v)).join(" | ")}`;
  if (s.type === "object") return "a mapping";
  if (s.type === "array") return "a list";
  if (typeof s.type === "string") return `a ${s.type}`;
  return "a value";
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
      return { path: [...path, key], message: "is missing", expected: describeSchema(props[key]) };
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
    case "if":
    case "oneOf":
    case "anyOf":
      return undefined; // the branch errors say what is wrong
    default:
      return { path, message: `is ${show(data)}`, expected: describeSchema(schema) };
  }
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
  if (validate(document)) return [];
  const problems = (validate.errors ?? [])
    .map(problemFromAjv)
    .filter((p): p is Problem => p !== undefined);
  // One problem per key: `100.5` is not an integer, and saying it is also above 100 is noise.
  const firstPerKey = new Map<string, Problem>();
  for (const p of problems) {
    const key = formatKeyPath(p.path);
    if (!firstPerKey.has(key)) firstPerKey.set(key, p);
  }
  return [...firstPerKey.values()].map((p) => ({ ...p, path: [...prefix, ...p.path] }));
}

/** Parses YAML text; malformed YAML or an empty document is an InputError. */
export function parseYaml(file: string, text: string, expected: string): unknown {
  const doc = YAML.parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new InputError(
      doc.errors.map((e) => {
        const [line, col] = e.linePos?.[0] ? [e.linePos[0].line, e.linePos[0].col] : [0, 0];
        const what = e.message.split("\n")[0].replace(/ at line \d+, column \d+.*$/, "");
        return `${file}: line ${line}, column ${col}: malformed YAML (${what}), expected ${expected}`;
      }),
    );
  }
  const value = doc.toJS();
  if (value === null || value === undefined) {
    throw new InputError([`${file}: (document): is empty, expected ${expected}`]);
  }
  return value;
}

export function readYamlFile(file: string, expected: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new InputError([
      `${file}: (file): cannot be read (${(err as NodeJS.ErrnoException).code}), expected ${expected}`,
    ]);
  }
  return parseYaml(file, text, expected);
}
