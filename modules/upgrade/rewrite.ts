/**
 * The mechanical rewrites of `avfleet upgrade-inputs`, as edits of the file's text at the
 * places the yaml package's Document says a key is (each node's `range`: `[start, value-end,
 * node-end]`, node-end past a trailing comment and line break; yaml's Node.d.ts, and
 * docs/real-path.md). Re-serialising the
 * whole Document would keep comments and flow style but not every byte (spacing, line
 * folding, a list's indentation), and a reviewer of the upgrade's diff should see only the
 * keys that changed.
 */
import { isAbsolute, relative, sep } from "node:path";
import YAML, {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
} from "yaml";
import { formatKeyPath, type KeyPath } from "../inputs/problems";
import { entryTitled, type InputKind } from "./catalogue";

/** One change the rewrite made: `path: from → to`, and the Changelog entry it answers. */
export interface Change {
  path: string;
  from: string;
  to: string;
  entry: string;
}

interface Edit {
  start: number;
  end: number;
  text: string;
  change: Change;
}

type Ranged = Node & { range: [number, number, number] };
const MERGE = entryTitled(
  "Merge keys (`<<`), aliases expanding past 100 nodes, duplicate keys, several documents",
).title;
const HOST_COUNTS = entryTitled("`minHosts`/`maxHosts` on a metal fleet").title;
const INVENTORY_PATH = entryTitled("`inventory:` must lie inside the project").title;

export function parse(text: string): Document.Parsed {
  return YAML.parseDocument(text, { uniqueKeys: true, keepSourceTokens: false });
}

const lineStart = (text: string, at: number) => text.lastIndexOf("\n", at - 1) + 1;
const columnOf = (text: string, at: number) => at - lineStart(text, at);
const oneLine = (s: string) => {
  const line = s.trim().split("\n")[0];
  return s.trim().includes("\n") ? `${line} …` : line;
};

/** The key path of a node from the ancestors yaml.visit hands over. */
function keyPathOf(ancestors: readonly unknown[], node: unknown): KeyPath {
  const path: (string | number)[] = [];
  const chain = [...ancestors, node];
  chain.forEach((item, i) => {
    if (isPair(item) && isScalar(item.key)) path.push(String(item.key.value));
    if (isSeq(item)) path.push(item.items.indexOf(chain[i + 1] as never));
  });
  return path;
}

/** The text of one pair of a block or flow map, from its key to the end of its value. */
function pairText(text: string, pair: Pair, withComment: boolean): string {
  const key = pair.key as Ranged;
  const value = pair.value as Ranged | null;
  const end = value ? (withComment ? value.range[2] : value.range[1]) : key.range[2];
  return text.slice(key.range[0], end);
}

/** Moves every line after the first by `by` columns (a block value's nested lines). */
function reindent(pairText: string, by: number): string {
  if (by === 0) return pairText;
  return pairText
    .split("\n")
    .map((line, i) => {
      if (i === 0 || line.trim() === "") return line;
      return by > 0 ? " ".repeat(by) + line : line.slice(-by);
    })
    .join("\n");
}

/**
 * The merge key pairs of a map written out, or undefined when that is not mechanical (a
 * source that is not a map, or nested block values going into a flow map): the loader then
 * reports the merge key, and a human decides.
 */
function expandMerge(
  text: string,
  doc: Document,
  map: YAMLMap,
  merge: Pair,
): { written: string; keys: string[] } | undefined {
  const value = merge.value;
  const sources = isAlias(value)
    ? [value]
    : isSeq(value) && value.items.every(isAlias)
      ? value.items
      : isMap(value)
        ? [value]
        : undefined;
  if (!sources) return undefined;
  const taken = new Set(
    map.items.flatMap((p) => (p !== merge && isScalar(p.key) ? [String(p.key.value)] : [])),
  );
  const column = columnOf(text, (merge.key as Ranged).range[0]);
  const pieces: string[] = [];
  const keys: string[] = [];
  // YAML 1.1 merge (https://yaml.org/type/merge.html): the map's own keys win, then the
  // sources in the order listed.
  for (const source of sources) {
    const resolved = isAlias(source) ? source.resolve(doc) : source;
    if (!isMap(resolved)) return undefined;
    for (const pair of resolved.items) {
      if (!isScalar(pair.key) || taken.has(String(pair.key.value))) continue;
      taken.add(String(pair.key.value));
      keys.push(String(pair.key.value));
      const from = columnOf(text, (pair.key as Ranged).range[0]);
      const piece = pairText(text, pair, !map.flow && !resolved.flow).replace(/\n$/, "");
      if (map.flow && piece.includes("\n")) return undefined;
      pieces.push(resolved.flow ? piece : reindent(piece, column - from));
    }
  }
  const written = map.flow
    ? pieces.join(", ")
    : pieces.map((p) => `${p}\n`).join(" ".repeat(column));
  return { written, keys };
}

/**
 * The last merge key's expansion as an edit; null when it is not mechanical, undefined when
 * none is left. The last first: an alias comes after its anchor, so a later merge key reads
 * its source's text before an earlier one that holds the anchor is written out.
 */
function mergeEdit(text: string, doc: Document): Edit | null | undefined {
  const found: { map: YAMLMap; merge: Pair; path: KeyPath }[] = [];
  const aliased = new Set<string>();
  YAML.visit(doc, {
    Alias(_, alias) {
      aliased.add(alias.source);
    },
    Map(_, map, ancestors) {
      const merge = map.items.find((p) => isScalar(p.key) && p.key.value === "<<");
      if (merge) found.push({ map, merge, path: [...keyPathOf(ancestors, map), "<<"] });
    },
  });
  const last = found.sort(
    (a, b) => (b.merge.key as Ranged).range[0] - (a.merge.key as Ranged).range[0],
  )[0];
  if (!last) return undefined;
  const { map, merge, path } = last;
  // An inline source another alias still reads would lose its anchor.
  const anchor = (merge.value as Node | null)?.anchor;
  if (anchor && aliased.has(anchor)) return null;
  const expanded = expandMerge(text, doc, map, merge);
  if (!expanded) return null;
  const { written, keys } = expanded;
  const key = merge.key as Ranged;
  const value = merge.value as Ranged;
  const end = map.flow ? value.range[1] : value.range[2];
  return {
    start: key.range[0],
    end,
    text: map.flow || text.slice(end - 1, end) === "\n" ? written : written.trimEnd(),
    change: {
      path: formatKeyPath(path),
      from: oneLine(pairText(text, merge, false)),
      to: `written out: ${keys.join(", ") || "(no key the map lacks)"}`,
      entry: MERGE,
    },
  };
}

/** Removes one pair of a block map: its line(s), and the comment lines just above it. */
function deletion(text: string, map: YAMLMap, pair: Pair, path: KeyPath, entry: string): Edit {
  const key = pair.key as Ranged;
  const value = pair.value as Ranged;
  let start = key.range[0];
  let end = value.range[2];
  if (map.flow) {
    const i = map.items.indexOf(pair);
    const next = map.items[i + 1];
    if (next) end = (next.key as Ranged).range[0];
    else if (i > 0) start = (map.items[i - 1].value as Ranged).range[1];
    else end = value.range[1];
  } else {
    start = lineStart(text, start);
    // A comment on the lines just above a key is the key's (yaml's commentBefore).
    while (start > 0 && /^[ \t]*#/.test(text.slice(lineStart(text, start - 1), start - 1))) {
      start = lineStart(text, start - 1);
    }
  }
  return {
    start,
    end,
    text: "",
    change: {
      path: formatKeyPath(path),
      from: oneLine(text.slice(value.range[0], value.range[1])),
      to: "(removed)",
      entry,
    },
  };
}

/** An absolute inventory path inside the project as the relative one the schema asks for. */
function inventoryEdit(node: Ranged, root: string, path: KeyPath): Edit | undefined {
  if (!isScalar(node) || typeof node.value !== "string" || !isAbsolute(node.value)) return;
  const inside = relative(root, node.value);
  if (inside === "" || inside.startsWith(`..${sep}`) || inside === ".." || isAbsolute(inside)) {
    return;
  }
  const written = node.type === "PLAIN" ? YAML.stringify(inside).trimEnd() : JSON.stringify(inside);
  return {
    start: node.range[0],
    end: node.range[1],
    text: written,
    change: { path: formatKeyPath(path), from: node.value, to: inside, entry: INVENTORY_PATH },
  };
}

/** The stack-file rewrites, all at once: they touch different keys. */
function stackEdits(text: string, doc: Document, root: string): Edit[] {
  const at = ["config", "avfleet:fleet"];
  const fleet = doc.getIn(at, true);
  if (!isMap(fleet)) return [];
  const edits: Edit[] = [];
  if (fleet.get("kind") === "metal") {
    for (const pair of fleet.items) {
      if (isScalar(pair.key) && (pair.key.value === "minHosts" || pair.key.value === "maxHosts")) {
        edits.push(deletion(text, fleet, pair, [...at, pair.key.value], HOST_COUNTS));
      }
    }
  }
  const inventory = fleet.get("inventory", true) as Ranged | undefined;
  const moved = inventory && inventoryEdit(inventory, root, [...at, "inventory"]);
  if (moved) edits.push(moved);
  return edits;
}

function apply(text: string, edits: readonly Edit[]): string {
  let out = text;
  for (const edit of [...edits].sort((a, b) => b.start - a.start)) {
    out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  }
  return out;
}

/** Most merge keys written out in one file: each is a new parse of the text. */
const MAX_MERGES = 1000;

/**
 * Rewrites a file's text from the previous format where the fix is mechanical; `root` is the
 * project root (where Pulumi runs and inventory paths resolve). The text must parse.
 */
export function rewrite(
  text: string,
  kind: InputKind,
  root: string,
): { text: string; changes: Change[] } {
  const changes: Change[] = [];
  let out = text;
  for (let i = 0; i < MAX_MERGES; i++) {
    const edit = mergeEdit(out, parse(out));
    if (!edit) break;
    out = apply(out, [edit]);
    changes.push(edit.change);
  }
  if (kind === "stack file") {
    const edits = stackEdits(out, parse(out), root);
    out = apply(out, edits);
    changes.push(...edits.map((e) => e.change));
  }
  return { text: out, changes };
}
