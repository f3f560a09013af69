// Registers TypeScript exactly as the Pulumi CLI's Node.js host does before it requires a
// program (@pulumi/pulumi/cmd/run/run.js, CommonJS branch): the SDK's tsutils pick the
// project's `typescript` and, when the project has none, the ts-node vendored in the SDK
// (7.0.1); compiler options are the host's defaults overlaid with tsconfig.json's; type
// checking is on unless PULUMI_NODEJS_TRANSPILE_ONLY or tsconfig's noCheck says otherwise.
// `node --require <this> modules/evaluation/worker.ts …` then loads the worker, our modules and
// the program through that hook: the resolution and compilation a user's `pulumi up` gets,
// not tsx's. Plain JavaScript on purpose: it must run before any TypeScript hook exists.
"use strict";
const path = require("node:path");

const sdk = path.dirname(
  require.resolve("@pulumi/pulumi/package.json", { paths: [process.cwd()] }),
);
const tsutils = require(path.join(sdk, "tsutils"));
const semver = require(require.resolve("semver", { paths: [sdk] }));

// The host reads tsconfig.json from its working directory, the project root.
const tsConfigPath = process.env.PULUMI_NODEJS_TSCONFIG_PATH ?? "tsconfig.json";
const compilerOptions = tsutils.loadTypeScriptCompilerOptions(tsConfigPath);
const transpileOnlyEnv = process.env.PULUMI_NODEJS_TRANSPILE_ONLY;
const transpileOnly = transpileOnlyEnv ? transpileOnlyEnv === "true" : compilerOptions.noCheck;
const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
// The strings are resolved from inside the SDK, as the host resolves them.
const ts = require(require.resolve(typescriptRequire, { paths: [sdk] }));
const nodeNext = semver.gte(ts.version, "4.7.0");

require(require.resolve(tsnodeRequire, { paths: [sdk] })).register({
  compiler: typescriptRequire,
  transpileOnly,
  project: tsConfigPath,
  skipProject: !require("node:fs").existsSync(tsConfigPath),
  compilerOptions: {
    target: "ES2020",
    module: nodeNext ? "nodenext" : "commonjs",
    moduleResolution: nodeNext ? "nodenext" : "node",
    sourceMap: "true",
    ...compilerOptions,
  },
});
