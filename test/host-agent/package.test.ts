/**
 * The host agent's package (modules/host-agent) as a host gets it: its modules compacted, its own
 * platform's adapter picked by the selector behind CloudInstanceManager, and the launcher the
 * units run finding the package where the bootstrap put it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { loadStackFile } from "../../modules/stacks/stack";
import { agentConfig, agentFiles } from "../../modules/host/agent";
import { ADAPTER_MODULES, packageSources } from "../../modules/host-agent/package";
import { AGENT_LIB_DIR, AGENT_PATH } from "../../modules/host/units";
import { agentImports, installAgent } from "../support/agent";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";

test("the agent a host gets is the package in the repository, less other platforms' adapters, its comment lines and docstrings", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  // The syntax tree less every docstring (the first statement of a def or class, a string).
  const strip = [
    "import ast, sys",
    "t = ast.parse(sys.stdin.read())",
    "for n in ast.walk(t):",
    "    b = getattr(n, 'body', None)",
    "    if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and isinstance(b[0], ast.Expr) and isinstance(b[0].value, ast.Constant) and isinstance(b[0].value.value, str):",
    "        n.body = b[1:]",
    "print(ast.dump(t))",
  ].join("\n");
  const tree = (source: string) => {
    const r = spawnSync("python3", ["-c", strip], {
      input: source,
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const sources = packageSources();
  const dir = `${AGENT_LIB_DIR}/avfleet_agent/`;
  for (const kind of ["gcp", "aws", "metal"]) {
    const spec = { kind, workload: { package: "avfleet-sfu" } } as unknown as FleetSpec;
    const files = agentFiles(spec);
    const shipped = new Map(
      files.filter((f) => f.path.startsWith(dir)).map((f) => [f.path.slice(dir.length), f]),
    );
    // every module but the other platforms' adapters, each the repository's less its docstrings
    const others = ["gcp.py", "aws.py", "metal.py"].filter((m) => m !== `${kind}.py`);
    assert.deepEqual(
      [...shipped.keys()],
      [...sources.keys()].filter((m) => !others.includes(m)),
      kind,
    );
    for (const [name, file] of shipped) {
      assert.ok(file.content.length < sources.get(name)!.length, `${kind}: ${name}`);
      assert.equal(tree(file.content), tree(sources.get(name)!), `${kind}: ${name}`);
      assert.equal(file.mode, "0644");
    }
    // the launcher the units run, last: a unit it starts finds its package whole
    assert.deepEqual(files.at(-1)?.path, AGENT_PATH);
    assert.equal(files.at(-1)?.mode, "0755");
  }
});

test("the selector gives each platform its own adapter, a CloudInstanceManager; another platform is refused by name", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const program = `${agentImports("from avfleet_agent import cloud, platforms")}import json
out = {}
for platform in ${JSON.stringify(Object.keys(ADAPTER_MODULES))}:
    manager = platforms.instance_manager({"platform": platform, "stateDir": "/s", "hostDir": "/h"}, {"metadata": "http://m", "monitoring": "http://c", "imds": "http://i"})
    out[platform] = [type(manager).__module__, type(manager).__name__, isinstance(manager, cloud.CloudInstanceManager)]
try:
    platforms.instance_manager({"platform": "azure"}, {})
except SystemExit as refused:
    out["azure"] = str(refused)
json.dump(out, sys.stdout)`;
  const run = spawnSync("python3", ["-c", program], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), {
    gcp: ["avfleet_agent.gcp", "Gcp", true],
    aws: ["avfleet_agent.aws", "Aws", true],
    metal: ["avfleet_agent.metal", "Metal", true],
    azure: "avfleet-agent: platform 'azure' is none of gcp, aws, metal",
  });
});

test("the installed launcher runs the installed package, with only its own platform's adapter there", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const root = mkdtempSync(join(tmpdir(), "agent-launcher-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const aws = loadStackFile(join(ROOT, "stacks/Pulumi.aws-us-east-1.yaml")).fleet as FleetSpec;
  const launcher = installAgent(root, aws);
  assert.equal(launcher, join(root, AGENT_PATH));
  writeFileSync(join(root, "agent.json"), JSON.stringify(agentConfig(aws)));
  // from another directory, as systemd starts it: the package is found from the launcher's path
  const run = spawnSync("python3", [launcher, "--print-host-metrics", join(root, "agent.json")], {
    cwd: tmpdir(),
    encoding: "utf8",
    env: {
      ...process.env,
      AVFLEET_ROOT: root,
      AVFLEET_AGENT_ENDPOINTS: '{"imds": "http://127.0.0.1:9"}',
    },
  });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^avfleet_host_udp_in_datagrams_total\{/m);
  // a GCP adapter is not there to import: the selector's platform is the host's
  const gcp = spawnSync(
    "python3",
    [
      "-c",
      `import sys; sys.path.insert(0, ${JSON.stringify(join(root, AGENT_LIB_DIR))}); import avfleet_agent.gcp`,
    ],
    { encoding: "utf8" },
  );
  assert.match(gcp.stderr, /ModuleNotFoundError: No module named 'avfleet_agent.gcp'/);
});
