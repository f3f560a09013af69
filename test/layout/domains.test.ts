/**
 * docs/design.md's layout rule: a domain (a folder under modules/) reads only the ones below it, so
 * the domains' imports form no cycle. Walks every import of modules/ and names the files of
 * any cycle it finds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "../support/cli";

const MODULES = join(ROOT, "modules");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return files(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

const domainOf = (path: string) => relative(MODULES, path).split("/")[0];

/** Domain → domain it imports → one file that does, for the message. */
function domainImports(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of files(MODULES)) {
    const text = readFileSync(file, "utf8");
    const from = domainOf(file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const m of text.matchAll(/(?:from|import\(|require\()\s*"(\.{1,2}\/[^"]+)"/g)) {
      const target = resolve(dirname(file), m[1]);
      if (!target.startsWith(`${MODULES}/`)) continue;
      const to = domainOf(target);
      if (to !== from && !edges.has(to)) edges.set(to, relative(ROOT, file));
    }
  }
  return graph;
}

/**
 * Every cycle's domains, found by a depth-first search from each domain, each cycle once and
 * told from its alphabetically first domain: a new domain must not rename a known cycle by
 * being searched first.
 */
function cycles(graph: Map<string, Map<string, string>>): string[][] {
  const found = new Map<string, string[]>();
  for (const start of [...graph.keys()].sort()) {
    const state = new Map<string, "open" | "done">();
    const path: string[] = [];
    const visit = (d: string) => {
      state.set(d, "open");
      path.push(d);
      for (const next of graph.get(d)?.keys() ?? []) {
        if (state.get(next) === "open") {
          const cycle = path.slice(path.indexOf(next));
          const first = cycle.indexOf([...cycle].sort()[0]);
          const told = [...cycle.slice(first), ...cycle.slice(0, first)];
          found.set(told.join(" → "), [...told, told[0]]);
        } else if (!state.has(next)) visit(next);
      }
      path.pop();
      state.set(d, "done");
    };
    visit(start);
  }
  return [...found.values()];
}

/**
 * Cycles among the bottom domains that were there before this test: config's schemas read
 * capacity's machine types and tuning's profiles, which read config's types; capacity reads
 * plan's types. Left to their owners; a cycle fixed leaves this list, a new one fails.
 */
const KNOWN: string[] = [];

test("the domains under modules/ import each other without a new cycle", () => {
  const graph = domainImports();
  const found = cycles(graph);
  const described = found.map((cycle) =>
    cycle
      .slice(1)
      .map((to, i) => `${cycle[i]} → ${to} (${graph.get(cycle[i])!.get(to)})`)
      .join(", "),
  );
  assert.deepEqual(
    described.filter((_, i) => !KNOWN.includes(found[i].join(" → "))),
    [],
  );
  assert.deepEqual(
    KNOWN.filter((k) => !found.some((c) => c.join(" → ") === k)),
    [],
    "a known cycle is gone: take it off the list",
  );
});

test("the gates read no domain above them: migrate reads gates, never the reverse", () => {
  const graph = domainImports();
  assert.ok(graph.get("migrate")?.has("gates"), "migrate reads modules/gates");
  for (const above of ["migrate", "observe", "placement", "plan", "diff", "policy"]) {
    assert.equal(graph.get("gates")?.get(above), undefined, `gates imports ${above}`);
  }
});

test("the cycle search finds a cycle when there is one", () => {
  const edge = (to: string) => new Map([[to, `modules/${to}.ts`]]);
  const graph = new Map([
    ["a", edge("b")],
    ["b", edge("c")],
    ["c", edge("a")],
    ["d", edge("a")],
  ]);
  assert.deepEqual(cycles(graph), [["a", "b", "c", "a"]]);
});
