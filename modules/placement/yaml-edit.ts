/**
 * Edits of a stack file that change only the keys they set. Re-printing a parsed document is
 * not byte-for-byte: yaml 2.9.1 breaks a flow collection over lines once it is longer than
 * `lineWidth` (dist/stringify/stringifyCollection.js, `reqNewline = ctx.options.lineWidth > 0
 * && len > ctx.options.lineWidth`; default 80, dist/stringify/stringify.js) and folds long
 * scalars (dist/stringify/foldFlowLines.js). So each edit replaces only the source text of the
 * value it sets, found by the node's `range`, "the [start, value-end, node-end] character
 * offsets" (dist/nodes/Node.d.ts); every other byte of the file stays as written.
 */
import { isDeepStrictEqual } from "node:util";
import YAML from "yaml";

type Json = Record<string, unknown>;

/**
 * A document in the repository's YAML style (prettier's): `{ a: 1 }` but `[a, b]`, and no
 * folded lines (lineWidth 0), so a long value stays on its line.
 */
export function renderDocument(doc: YAML.Document, flow = false): string {
  return doc
    .toString({ lineWidth: 0, ...(flow ? { collectionStyle: "flow" as const } : {}) })
    .replace(/\[ ([^[\]\n]*?) \]/g, "[$1]");
}

export function flowText(value: unknown): string {
  return renderDocument(new YAML.Document(value), true).trimEnd();
}

function column(source: string, offset: number): number {
  return offset - (source.lastIndexOf("\n", offset - 1) + 1);
}

/** A value in block style at `indent`: a list of flow items (pools) or `key: value` lines. */
function blockLines(value: unknown, indent: string): string[] {
  if (Array.isArray(value)) return value.map((item) => `${indent}- ${flowText(item)}`);
  if (value !== null && typeof value === "object") {
    return Object.entries(value as Json).flatMap(([key, v]) =>
      v !== null && typeof v === "object"
        ? [`${indent}${flowText(key)}:`, ...blockLines(v, `${indent}  `)]
        : [`${indent}${flowText(key)}: ${flowText(v)}`],
    );
  }
  return [`${indent}${flowText(value)}`];
}

/** Where the text of a node's value ends: a block collection ends with its last item's value. */
function valueEnd(node: YAML.Node): number {
  if (YAML.isCollection(node) && !node.flow && node.items.length > 0) {
    const last = node.items[node.items.length - 1];
    const inner = YAML.isPair(last) ? (last.value as YAML.Node | null) : (last as YAML.Node);
    if (inner) return valueEnd(inner);
  }
  return node.range![1];
}

/** The text of `value` replacing `node`, in the style of the node it replaces. */
function replacement(source: string, node: YAML.Node, value: unknown): string {
  const collection = value !== null && typeof value === "object";
  if (!collection || (YAML.isCollection(node) && node.flow)) return flowText(value);
  const start = node.range![0];
  const lines = blockLines(value, " ".repeat(column(source, start)));
  // A block value under its key starts on the key's next line, so its first indent is there.
  return [lines[0].trimStart(), ...lines.slice(1)].join("\n");
}

/**
 * `source` with `path` set to `value`: the old value's text replaced, or a new `key: value`
 * after the last key of the deepest map that exists (block or flow). Unchanged when the value
 * is already there.
 */
export function setInText(source: string, path: string[], value: unknown): string {
  const doc = YAML.parseDocument(source);
  if (doc.errors.length > 0) throw doc.errors[0];
  let map = doc.contents as YAML.Node | null;
  for (let depth = 0; depth < path.length; depth++) {
    if (!YAML.isMap(map)) throw new Error(`${path.slice(0, depth).join(".")} is not a mapping`);
    const pair = map.items.find((p) => YAML.isScalar(p.key) && p.key.value === path[depth]);
    const rest = path.slice(depth + 1);
    const nested = rest.reduceRight<unknown>((v, key) => ({ [key]: v }), value);
    if (!pair || pair.value === null) {
      if (pair) throw new Error(`${path.slice(0, depth + 1).join(".")} is empty`);
      return insertPair(source, map, path[depth], nested);
    }
    const node = pair.value as YAML.Node;
    if (rest.length === 0) {
      if (isDeepStrictEqual(node.toJSON(), value)) return source;
      const [start, end] = [node.range![0], valueEnd(node)];
      return source.slice(0, start) + replacement(source, node, value) + source.slice(end);
    }
    map = node;
  }
  return source;
}

function insertPair(source: string, map: YAML.YAMLMap, key: string, value: unknown): string {
  if (map.flow) {
    const close = source.lastIndexOf("}", map.range![1]);
    const before = source.slice(0, close).trimEnd();
    const sep = map.items.length > 0 ? ", " : " ";
    return `${before}${sep}${flowText(key)}: ${flowText(value)} ${source.slice(close)}`;
  }
  const first = map.items[0].key as YAML.Node;
  const indent = " ".repeat(column(source, first.range![0]));
  const lines = blockLines({ [key]: value }, indent);
  const last = map.items[map.items.length - 1];
  const after = valueEnd((last.value ?? last.key) as YAML.Node);
  const lineEnd = source.indexOf("\n", after);
  const at = lineEnd === -1 ? source.length : lineEnd;
  return `${source.slice(0, at)}\n${lines.join("\n")}${source.slice(at)}`;
}
