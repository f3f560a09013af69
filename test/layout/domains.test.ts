/**
 * docs/design.md's layout rules: a domain (a folder under modules/) reads only the domains below
 * it, its files import each other without a cycle, and it stays small enough to read in one
 * sitting (≤ 2,000 lines of source, no file over 600). The imports table of docs/design.md is
 * checked against the code, so the page a newcomer reads first says what the code does.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "../support/cli";

const MODULES = join(ROOT, "modules");
const DOMAIN_LINES = 2000;
const FILE_LINES = 600;
/** Source a reader reads; data (tables, published figures, pictures) is looked up, not read. */
const SOURCE = /\.(ts|js|mjs|py|sh)$/;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (entry === "__pycache__") return [];
    if (statSync(path).isDirectory()) return files(path);
    return SOURCE.test(path) ? [path] : [];
  });
}

const domainOf = (path: string) => relative(MODULES, path).split("/")[0];
const lines = (path: string) => readFileSync(path, "utf8").split("\n").length - 1;

/** The modules/ file a relative import names, as the TypeScript loader resolves it. */
function resolveImport(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, `${base}.js`, join(base, "index.ts")]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not this spelling
    }
  }
  return undefined;
}

/** File → the modules/ files it imports (relative imports only: packages are not ours). */
function fileImports(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of files(MODULES).filter((f) => /\.(ts|js)$/.test(f))) {
    const targets = new Set<string>();
    for (const m of readFileSync(file, "utf8").matchAll(
      /(?:from|import\(|require\()\s*"(\.{1,2}\/[^"]+)"/g,
    )) {
      const target = resolveImport(file, m[1]);
      if (target?.startsWith(`${MODULES}/`)) targets.add(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Domain → domain it imports → one file that does, for the message. */
function domainImports(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const [file, targets] of fileImports()) {
    const from = domainOf(file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const target of targets) {
      const to = domainOf(target);
      if (to !== from && !edges.has(to)) edges.set(to, relative(ROOT, file));
    }
  }
  return graph;
}

/**
 * The strongly connected groups of more than one node (or a node importing itself), by Tarjan's
 * algorithm: each group is one cycle or several knotted together, told once, sorted.
 */
export function knots(graph: Map<string, Iterable<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1 || [...(graph.get(v) ?? [])].includes(v)) found.push(group.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found.sort((a, b) => a[0].localeCompare(b[0]));
}

test("the domains under modules/ import each other without a cycle", () => {
  const graph = domainImports();
  const described = knots(new Map([...graph].map(([d, edges]) => [d, edges.keys()]))).map((knot) =>
    knot
      .flatMap((d) =>
        [...graph.get(d)!]
          .filter(([to]) => knot.includes(to))
          .map(([to, file]) => `${d} → ${to} (${file})`),
      )
      .join(", "),
  );
  assert.deepEqual(described, []);
});

test("the files of a domain import each other without a cycle", () => {
  const graph = fileImports();
  const rel = (f: string) => relative(ROOT, f);
  assert.deepEqual(
    knots(graph).map((knot) => knot.map(rel).join(" ↔ ")),
    [],
  );
});

test(`no domain is over ${DOMAIN_LINES} lines of source and no file over ${FILE_LINES}`, () => {
  const perDomain = new Map<string, number>();
  const longFiles: string[] = [];
  for (const file of files(MODULES)) {
    const n = lines(file);
    perDomain.set(domainOf(file), (perDomain.get(domainOf(file)) ?? 0) + n);
    if (n > FILE_LINES) longFiles.push(`${relative(ROOT, file)}: ${n} lines`);
  }
  const bigDomains = [...perDomain]
    .filter(([, n]) => n > DOMAIN_LINES)
    .map(([d, n]) => `modules/${d}: ${n} lines`);
  assert.deepEqual([...bigDomains, ...longFiles], []);
});

test("docs/design.md's imports table says what each domain imports", () => {
  const page = readFileSync(join(ROOT, "docs/design.md"), "utf8");
  const rows = new Map<string, string[]>();
  for (const m of page.matchAll(/^\| `([a-z-]+)` +\| (.*?) *\|$/gm)) {
    const imports = m[2].split(";")[0];
    rows.set(m[1], [...imports.matchAll(/`([a-z-]+)`/g)].map((x) => x[1]).sort());
  }
  const code = new Map(
    [...domainImports()].map(([d, edges]) => [d, [...edges.keys()].sort()] as const),
  );
  assert.deepEqual(Object.fromEntries([...rows].sort()), Object.fromEntries([...code].sort()));
});

test("the gates read no domain above them: migrate reads gates, never the reverse", () => {
  const graph = domainImports();
  assert.ok(graph.get("migrate")?.has("gates"), "migrate reads modules/gates");
  for (const above of [
    "migrate",
    "migration-state",
    "runbook",
    "rehearsal",
    "observe",
    "alerting",
    "placement",
    "siting",
    "plan",
    "evaluation",
    "diff",
    "policy-runner",
  ]) {
    assert.equal(graph.get("gates")?.get(above), undefined, `gates imports ${above}`);
  }
});

test("the cycle search finds every cycle and only those", () => {
  const graph = new Map<string, string[]>([
    ["a", ["b"]],
    ["b", ["c"]],
    ["c", ["a"]],
    ["d", ["a", "d"]],
    ["e", ["f"]],
    ["f", []],
  ]);
  assert.deepEqual(knots(graph), [["a", "b", "c"], ["d"]]);
});
