/**
 * Issue #16, property tests: random mutations of the example files, of their values and of
 * their text, never make a loader fail any other way than with an InputError (exit 2) whose
 * every line names the file, never write anything, and whatever they accept evaluates: the
 * tuning renders, capacity and cost are finite numbers, a runbook plans.
 * CI runs a fixed seed; `npm run fuzz` runs longer with a new seed (FUZZ_RUNS, FUZZ_SEED).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { fleetEconomics } from "../../modules/capacity/capacity";
import { planUnits } from "../../modules/runbook/plan";
import { loadStackFile } from "../../modules/stacks/stack";
import { InputError } from "../../modules/inputs/problems";
import { renderPlan } from "../../modules/migrate/render";
import { loadRunbook } from "../../modules/runbook/runbook";
import { loadHostFacts, PROFILE_NAMES, renderTuning } from "../../modules/tuning";
import { fleetHardware, hostFacts } from "../../modules/tuning/host-facts";
import { ROOT } from "../support/cli";
import { FIXTURE_STACKS } from "../migrate/support";

const LONG = process.env.FUZZ_RUNS !== undefined;
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
// A long run explores a new seed each time and prints it, so a failure can be replayed.
const SEED = Number(process.env.FUZZ_SEED ?? (LONG ? Date.now() % 2 ** 31 : 16016));
if (LONG) process.stderr.write(`fuzz: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} per property\n`);

const DIR = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "inputs-fuzz-"));
mkdirSync(join(DIR, "stacks"));
mkdirSync(join(DIR, "inventory"));

type Json = unknown;

/** Values that broke loaders before: non-finite and huge numbers, wrong shapes, YAML-ish text. */
const hostile: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom(
    Infinity,
    -Infinity,
    NaN,
    1e308,
    -1,
    0,
    2 ** 53,
    0.5,
    "",
    "<<",
    "*a",
    "0.0.0.0",
    "127.0.0.1",
    "10.0.0.1",
    "r99",
    "0s",
    "999999h",
    "1e400",
    null,
    true,
    [],
    {},
  ),
  fc.integer({ min: -1e6, max: 1e9 }),
  fc.double(),
  fc.string({ maxLength: 12 }),
  fc.ipV4(),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);

type Path = (string | number)[];

function paths(value: Json, at: Path = []): Path[] {
  if (typeof value !== "object" || value === null) return [at];
  const entries = Object.entries(value);
  return [
    at,
    ...entries.flatMap(([k, v]) => paths(v, [...at, Array.isArray(value) ? Number(k) : k])),
  ];
}

interface Mutation {
  pick: number;
  kind: "replace" | "delete" | "add" | "duplicate";
  value: Json;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  pick: fc.nat(),
  kind: fc.constantFrom("replace", "delete", "add", "duplicate"),
  value: hostile,
});

/** Applies value mutations to a copy of the document. */
function mutate(document: Json, mutations: Mutation[]): Json {
  let doc = structuredClone(document);
  for (const m of mutations) {
    const all = paths(doc);
    const path = all[m.pick % all.length];
    if (path.length === 0) {
      doc = m.kind === "replace" ? m.value : doc;
      continue;
    }
    const parent = path.slice(0, -1).reduce((o: any, k) => o[k], doc) as any;
    const key = path[path.length - 1];
    if (m.kind === "replace") parent[key] = m.value;
    else if (m.kind === "delete") {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (m.kind === "add") {
      if (Array.isArray(parent)) parent.push(m.value);
      else parent[`x${String(key)}`] = m.value;
    } else if (Array.isArray(parent)) parent.push(structuredClone(parent[Number(key)]));
  }
  return doc;
}

/** Text mutations: YAML syntax a hand edit or an attacker might bring. */
const TOKENS = [
  "&a ",
  "*a",
  "<<: ",
  "!!binary ",
  "!tag ",
  "{",
  "}",
  "[",
  "- ",
  ": ",
  "\t",
  "\n",
  ".inf",
  ".nan",
  "~",
  "---\n",
  '"',
  "#",
  "1e400",
  "%YAML 1.1\n",
];
const textEdit = fc.record({
  at: fc.nat(),
  cut: fc.nat({ max: 8 }),
  token: fc.constantFrom(...TOKENS),
});

function editText(text: string, edits: { at: number; cut: number; token: string }[]): string {
  let out = text;
  for (const e of edits) {
    const i = e.at % (out.length + 1);
    out = out.slice(0, i) + e.token + out.slice(i + e.cut);
  }
  return out;
}

/** Writes a file and loads it: accepted, or an InputError naming the file on every line. */
function loadsOrRefuses<T>(file: string, text: string, load: (file: string) => T): T | undefined {
  writeFileSync(file, text);
  try {
    return load(file);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    assert.ok(err.lines.length > 0);
    for (const line of err.lines) {
      assert.ok(
        line.startsWith(`${file}: `) || line.includes("/inventory/"),
        `a problem line that names no file: ${line}`,
      );
      assert.doesNotMatch(line, /\n\s+at /, "no stack trace");
    }
    return undefined;
  }
}

/** What evaluation computes from a stack: it must never meet an impossible value. */
function evaluates(file: string): void {
  const stack = loadStackFile(file);
  if (!stack.fleet) return;
  for (const hardware of fleetHardware(stack.fleet, stack.inventory?.hostClasses).values()) {
    renderTuning(stack.fleet.tuning.profile, hostFacts(stack.fleet, hardware));
  }
  const { capacity, cost } = fleetEconomics(stack.fleet, stack.inventory);
  const { demandStreams, capacityStreams, hostsRequired, shortfallHosts } = capacity;
  for (const n of [
    demandStreams,
    capacityStreams,
    hostsRequired,
    shortfallHosts,
    cost.egressMonthlyUsd,
    cost.computeMonthlyUsd.max,
  ])
    assert.ok(
      Number.isFinite(n),
      `capacity and cost are finite: ${JSON.stringify({ capacity, cost })}`,
    );
}

const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

const property = (name: string, run: () => void) =>
  test(name, () => {
    run();
    assert.equal(existsSync(join(DIR, ".avfleet")), false, "nothing written under .avfleet/");
  });

/** Runs `check` on the text of random mutations of `document`: its values, then its YAML. */
function forMutations(document: Json, check: (text: string) => void, maxMutations = 3): void {
  fc.assert(
    fc.property(
      fc.array(mutation, { minLength: 1, maxLength: maxMutations }),
      fc.array(textEdit, { maxLength: 2 }),
      (mutations, edits) => check(editText(YAML.stringify(mutate(document, mutations)), edits)),
    ),
    { seed: SEED, numRuns: RUNS },
  );
}

for (const example of ["gcp-us-west1", "aws-us-east-1", "metal-sjc", "traffic-us-west"]) {
  property(`property: mutated ${example} stack files load or are refused, never crash`, () => {
    // A traffic stack reads its pools; a metal one its inventory: both next to it.
    for (const other of ["metal-sjc", "gcp-us-west1"]) {
      writeFileSync(
        join(DIR, "stacks", `Pulumi.${other}.yaml`),
        read(`stacks/Pulumi.${other}.yaml`),
      );
    }
    writeFileSync(join(DIR, "inventory", "metal-sjc.yaml"), read("inventory/metal-sjc.yaml"));
    const file = join(DIR, "stacks", `Pulumi.fuzz-${example}.yaml`);
    forMutations(YAML.parse(read(`stacks/Pulumi.${example}.yaml`)), (text) => {
      if (loadsOrRefuses(file, text, loadStackFile)) evaluates(file);
    });
  });
}

property("property: mutated inventories load or are refused, never crash", () => {
  const stack = join(DIR, "stacks", "Pulumi.metal-sjc.yaml");
  const stackText = read("stacks/Pulumi.metal-sjc.yaml");
  const inventory = join(DIR, "inventory", "metal-sjc.yaml");
  forMutations(
    YAML.parse(read("inventory/metal-sjc.yaml")),
    (text) => {
      writeFileSync(inventory, text);
      if (loadsOrRefuses(stack, stackText, loadStackFile)) evaluates(stack);
    },
    4,
  );
});

property("property: mutated runbooks load or are refused, never crash; accepted ones plan", () => {
  const file = join(DIR, "runbook.yaml");
  forMutations(YAML.parse(read("runbooks/us-west.yaml")), (text) => {
    const loaded = loadsOrRefuses(file, text, (f) => loadRunbook(f, FIXTURE_STACKS));
    if (loaded) renderPlan(loaded, planUnits(loaded));
  });
});

property(
  "property: mutated host facts load or are refused, never crash; accepted ones render",
  () => {
    const file = join(DIR, "facts.yaml");
    forMutations(YAML.parse(read("modules/tuning/examples/metal-64.yaml")), (text) => {
      const facts = loadsOrRefuses(file, text, loadHostFacts);
      if (facts) for (const profile of PROFILE_NAMES) renderTuning(profile, facts);
    });
  },
);
