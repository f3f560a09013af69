/**
 * The Plan worker and the stack program compiled once into one CommonJS file, cached by the
 * bytes of every source it was built from, so a worker starts without compiling TypeScript.
 *
 * Each TypeScript file is compiled by TypeScript itself with the options the Pulumi CLI's
 * ts-node registration uses (ES2020 and nodenext, overridden by tsconfig.json's
 * compilerOptions); esbuild only links the compiled CommonJS modules, so every module keeps
 * its own scope and runs when it is first required, as under `pulumi up`. Imports resolve in
 * the order of a CommonJS require hook (.js, .json, .node, then .ts); node_modules stay
 * outside the bundle. Every module gets its own `__filename` and `__dirname` (the source
 * file's, not the bundle's). The bundle tracks which modules each evaluation requires
 * (TRACKER): the Plan cache keys a stack by the modules its evaluation actually used.
 */
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileId } from "./cache";

/** Bump when the bundle's recipe changes. */
const BUNDLE_FORMAT = 2;

export interface Bundle {
  /** The bundled worker: `node <file> <stack-file>…`. */
  file: string;
  /** Seconds spent building it (0 when it came from the cache). */
  buildSeconds: number;
}

interface BundleManifest {
  /** Absolute path → git blob id of every file the bundle was built from. */
  inputs: Record<string, string>;
  file: string;
}

function hash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}

function unchanged(manifest: BundleManifest): boolean {
  return (
    existsSync(manifest.file) &&
    Object.entries(manifest.inputs).every(([file, id]) => fileId(file) === id)
  );
}

type TypeScript = typeof import("typescript");

/** The options `pulumi up` hands ts-node (see @pulumi/pulumi/cmd/run/run.js), for transpiling. */
function compilerOptions(ts: TypeScript, root: string) {
  const tsconfig = join(root, "tsconfig.json");
  const text = (() => {
    try {
      return readFileSync(tsconfig, "utf8");
    } catch {
      return "{}";
    }
  })();
  const parsed = ts.parseConfigFileTextToJson(tsconfig, text).config ?? {};
  const json = {
    target: "ES2020",
    module: "nodenext",
    moduleResolution: "nodenext",
    ...(parsed.compilerOptions ?? {}),
    noEmit: false,
    sourceMap: false,
    inlineSourceMap: false,
    declaration: false,
  };
  return ts.convertCompilerOptionsFromJson(json, root).options;
}

/** The CommonJS module text of a source file, told its own location. */
function moduleText(file: string, body: string): string {
  const where = `var __filename = ${JSON.stringify(file)}, __dirname = ${JSON.stringify(dirname(file))};`;
  const strict = /^"use strict";\n/.exec(body)?.[0] ?? "";
  return `${strict}${where}\n${body.slice(strict.length)}`;
}

/**
 * What the modules of the bundle require, for the Plan cache: a module required while another
 * initializes is that module's dependency (an edge); one required or a file read at any other
 * moment is a root of the evaluation under way. `reset(key)` forgets a module's instance, so
 * that its next require runs it again (the program, once per stack in a warm worker).
 */
const TRACKER = `
var __avfleet = globalThis.__avfleet = {
  initializing: [],
  edges: new Map(),
  roots: new Set(),
  resets: new Map(),
  use(key) {
    const parent = this.initializing[this.initializing.length - 1];
    if (parent === undefined) this.roots.add(key);
    else this.edges.get(parent).add(key);
  },
  reset(key) { this.resets.get(key)?.(); },
};
var __commonJS = (cb, mod) => {
  var key = __getOwnPropNames(cb)[0];
  __avfleet.resets.set(key, () => { mod = undefined; });
  return function __require() {
    __avfleet.use(key);
    if (mod) return mod.exports;
    __avfleet.edges.set(key, new Set());
    __avfleet.initializing.push(key);
    try {
      (0, cb[key])((mod = { exports: {} }).exports, mod);
      return mod.exports;
    } catch (e) {
      throw mod = 0, e;
    } finally {
      __avfleet.initializing.pop();
    }
  };
};
`;

/** esbuild's own helper, which TRACKER replaces (checked: a new esbuild may word it otherwise). */
const ESBUILD_COMMONJS =
  /^var __commonJS = \(cb, mod\) => function __require\(\) \{\n(?: .*\n)+?\};\n/m;

/** What a bundle runs, and whether it tracks what its modules require (the worker does). */
interface Recipe {
  kind: "workers" | "cli";
  entry: string;
  tracked: boolean;
}

const WORKER: Recipe = {
  kind: "workers",
  entry: [
    `require("./modules/evaluation/lazy-sdk.ts").deferUnusedSdkModules();`,
    `require("./modules/evaluation/worker.ts").runWorker(() => require("./index.ts"));`,
  ].join("\n"),
  tracked: true,
};

/** The avfleet CLI (scripts/avfleet.ts), run by bin/avfleet without compiling TypeScript. */
const CLI: Recipe = { kind: "cli", entry: `require("./scripts/avfleet.ts");`, tracked: false };

async function build(root: string, out: string, recipe: Recipe): Promise<string[]> {
  const esbuild = await import("esbuild");
  const ts = (await import("typescript")).default;
  const options = compilerOptions(ts, root);
  const { entry } = recipe;
  const result = await esbuild.build({
    stdin: { contents: entry, resolveDir: root, sourcefile: "avfleet-worker-entry.js" },
    absWorkingDir: root,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: `node${process.versions.node.split(".")[0]}`,
    packages: "external",
    resolveExtensions: [".js", ".json", ".node", ".ts"],
    metafile: true,
    write: false,
    logLevel: "silent",
    plugins: [
      {
        name: "avfleet-commonjs",
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, ({ path }) => {
            // The CLI's entry starts with a shebang line.
            const source = readFileSync(path, "utf8").replace(/^#!.*/, "");
            const { outputText } = ts.transpileModule(source, {
              compilerOptions: options,
              fileName: path,
            });
            return { contents: moduleText(path, outputText), loader: "js" };
          });
          // require() of a JSON file: module.exports is the parsed document.
          b.onLoad({ filter: /\.json$/ }, ({ path }) => {
            const json = JSON.stringify(JSON.parse(readFileSync(path, "utf8")));
            return { contents: moduleText(path, `module.exports = ${json};`), loader: "js" };
          });
        },
      },
    ],
  });
  const text = result.outputFiles[0].text;
  if (recipe.tracked && !ESBUILD_COMMONJS.test(text)) {
    throw new Error(
      "esbuild's __commonJS helper changed: update TRACKER in modules/evaluation/bundle.ts",
    );
  }
  mkdirSync(dirname(out), { recursive: true });
  const temporary = `${out}.${process.pid}.tmp`;
  writeFileSync(temporary, recipe.tracked ? text.replace(ESBUILD_COMMONJS, () => TRACKER) : text);
  renameSync(temporary, out);
  return Object.keys(result.metafile.inputs)
    .filter((input) => !input.startsWith("<stdin>") && !input.startsWith("avfleet-worker-entry"))
    .map((input) => resolve(root, input));
}

/**
 * The worker bundle of the project at `root`, built unless a bundle of the same sources is in
 * `cacheRoot`. Sources are compared by content; the bundle names `root`'s paths, so each
 * checkout has its own.
 */
export function workerBundle(root: string, cacheRoot: string): Promise<Bundle> {
  return cachedBundle(root, cacheRoot, WORKER);
}

/**
 * The CLI's bundle, as workerBundle; its manifest is <cacheRoot>/cli/<name>.json for
 * bin/avfleet, which checks the sources' blob ids itself and runs the bundle when they match.
 */
export function cliBundle(root: string, cacheRoot: string): Promise<Bundle> {
  return cachedBundle(root, cacheRoot, CLI);
}

async function cachedBundle(root: string, cacheRoot: string, recipe: Recipe): Promise<Bundle> {
  const cacheDir = join(cacheRoot, recipe.kind);
  // bin/avfleet finds the CLI's manifest by Node's version alone: its cache is its checkout's.
  const name =
    recipe.kind === "cli"
      ? `node-${process.version}`
      : hash(JSON.stringify({ format: BUNDLE_FORMAT, root, node: process.version }));
  const manifestFile = join(cacheDir, `${name}.json`);
  try {
    const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as BundleManifest;
    if (unchanged(manifest)) {
      // The cache prunes the least recently used first.
      const now = new Date();
      for (const file of [manifest.file, manifestFile]) utimesSync(file, now, now);
      return { file: manifest.file, buildSeconds: 0 };
    }
  } catch {
    // No usable bundle: build one.
  }
  const started = process.hrtime.bigint();
  const startedAt = Date.now();
  const staging = join(cacheDir, `${name}.${process.pid}.staging.js`);
  const inputs = await build(root, staging, recipe);
  const tsconfig = join(root, "tsconfig.json");
  const ids = Object.fromEntries([...inputs, tsconfig].map((input) => [input, fileId(input)]));
  const file = join(cacheDir, `${hash(JSON.stringify(ids) + name)}.js`);
  renameSync(staging, file);
  // The ids are read after the build: a source saved while it ran would be recorded with
  // content the bundle does not have, and every later run would use that stale bundle.
  if (inputs.some((input) => modifiedSince(input, startedAt))) {
    return { file, buildSeconds: Number(process.hrtime.bigint() - started) / 1e9 };
  }
  const manifest: BundleManifest = { inputs: ids, file };
  writeFileSync(`${manifestFile}.${process.pid}.tmp`, JSON.stringify(manifest));
  renameSync(`${manifestFile}.${process.pid}.tmp`, manifestFile);
  return { file, buildSeconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

function modifiedSince(file: string, at: number): boolean {
  try {
    return statSync(file).mtimeMs >= at;
  } catch {
    return true;
  }
}
