/**
 * The policy pack on its own, loaded the way the Pulumi CLI loads it: policy/ copied alone to
 * an empty folder, `npm ci` against its own lock file, then started as the Node.js language
 * host starts a pack (`node @pulumi/pulumi/cmd/run-policy-pack <engine> .` from the pack's
 * folder: ts-node with typeCheck: true), and spoken to over the analyzer gRPC protocol.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Plan } from "../../modules/plan/plan";
import { POLICIES } from "../../modules/policy-runner";
import { checkPlan } from "../../modules/policy-runner/runner";
import { loadStackFile, pulumiConfigMap, stackFileName } from "../../modules/stacks/stack";
import { ROOT } from "../support/cli";
import { evaluateExamples, resource } from "../support/plans";
import { prerequisite } from "../support/prerequisites";

let dir: string;
let installFailure: string | undefined;
let plan: Plan;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "policy-pack-"));
  cpSync(join(ROOT, "policy"), dir, {
    recursive: true,
    filter: (src) => !src.split("/").includes("node_modules"),
  });
  const npm = spawnSync("npm", ["ci", "--no-audit", "--no-fund", "--prefer-offline"], {
    cwd: dir,
    encoding: "utf8",
  });
  if (npm.status !== 0) {
    installFailure = `npm ci of the pack (needs the npm registry or its cache): ${npm.stderr.trim().split("\n").pop()}`;
  }
  // A Plan where resource and stack policies fire, mandatory and advisory.
  [plan] = await evaluateExamples("gcp-us-west1");
  resource(plan, "gcp-usw1-fw-media-udp").inputs.allows = [{ protocol: "udp", ports: ["0-65535"] }];
  resource(plan, "gcp-usw1-template").inputs.networkInterfaces[0].nicType = "VIRTIO_NET";
  resource(plan, "gcp-usw1-autoscaler").inputs.autoscalingPolicy.maxReplicas = 50;
});

after(() => rmSync(dir, { recursive: true, force: true }));

interface Pack {
  /** The analyzer service's methods, promisified. */
  call(method: string, request: unknown): Promise<any>;
  pb: any;
  Struct: any;
  Empty: any;
  stop(): void;
}

/**
 * Starts the pack as the language host does, for a preview unless `preview` is false (the
 * engine says which in PULUMI_NODEJS_DRY_RUN), with the stack's config and name if given (the
 * engine's PULUMI_CONFIG and PULUMI_NODEJS_STACK; PULUMI_STACK is the operator's, here another); resolves once it prints its port.
 */
function startPack(
  preview = true,
  stack?: { name: string; config: Record<string, string> },
): Promise<Pack> {
  const req = createRequire(join(dir, "node_modules/@pulumi/pulumi/package.json"));
  const child = spawn(
    process.execPath,
    [req.resolve("./cmd/run-policy-pack"), "127.0.0.1:0", "."],
    {
      cwd: dir,
      env: {
        ...process.env,
        NODE_OPTIONS: "",
        PULUMI_NODEJS_DRY_RUN: String(preview),
        PULUMI_STACK: "media-infra/avfleet/some-other-stack",
        ...(stack
          ? { PULUMI_CONFIG: JSON.stringify(stack.config), PULUMI_NODEJS_STACK: stack.name }
          : {}),
      },
    },
  );
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on("exit", (code) => reject(new Error(`the pack exited ${code}: ${stderr}`)));
    child.stdout.once("data", (chunk) => {
      const port = Number(String(chunk).trim());
      const grpc = req("@grpc/grpc-js");
      const rpc = req("./proto/analyzer_grpc_pb");
      const client = new rpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      resolve({
        call: (method, request) =>
          new Promise((done, fail) =>
            client[method](request, (err: Error | null, res: unknown) =>
              err ? fail(err) : done(res),
            ),
          ),
        pb: req("./proto/analyzer_pb"),
        Struct: req("google-protobuf/google/protobuf/struct_pb").Struct,
        Empty: req("google-protobuf/google/protobuf/empty_pb").Empty,
        stop: () => {
          client.close();
          child.removeAllListeners("exit");
          child.kill();
        },
      });
    });
  });
}

/** A Plan resource as the engine sends it: type, urn, name, inputs as a Struct, options. */
function analyzerResource(
  pack: Pack,
  r: Plan["resources"][number],
  kind: "AnalyzeRequest" | "AnalyzerResource",
) {
  const message = new pack.pb[kind]();
  message.setType(r.type);
  message.setUrn(r.urn);
  message.setName(r.name);
  message.setProperties(pack.Struct.fromJavaScript(JSON.parse(JSON.stringify(r.inputs))));
  message.setOptions(new pack.pb.AnalyzerResourceOptions());
  if (kind === "AnalyzerResource" && r.parent) message.setParent(r.parent);
  return message;
}

const stackUrn = (stack: string) =>
  `urn:pulumi:${stack}::avfleet::pulumi:pulumi:Stack::avfleet-${stack}`;

/** Diagnostics as `avfleet policy` reports violations: policy, level, urn, message. */
function verdicts(pack: Pack, response: any, urn: string): string[] {
  return response.getDiagnosticsList().map((d: any) => {
    const level =
      d.getEnforcementlevel() === pack.pb.EnforcementLevel.MANDATORY ? "mandatory" : "advisory";
    // The pack prefixes each message with the policy's description.
    const message = d.getMessage().split("\n").slice(1).join("\n");
    return `${d.getPolicyname()} ${level} ${d.getUrn() || urn}: ${message}`;
  });
}

test("the pack, installed alone, serves every policy and judges a Plan as `avfleet policy` does", async (t) => {
  if (!prerequisite(t, installFailure)) return;
  const pack = await startPack();
  try {
    const info = await pack.call("getAnalyzerInfo", new pack.Empty());
    assert.deepEqual(
      info.getPoliciesList().map((p: any) => p.getName()),
      POLICIES.map((p) => p.name),
    );

    const judged: string[] = [];
    for (const r of plan.resources) {
      const response = await pack.call("analyze", analyzerResource(pack, r, "AnalyzeRequest"));
      judged.push(...verdicts(pack, response, r.urn));
    }
    const request = new pack.pb.AnalyzeStackRequest();
    request.setResourcesList(
      plan.resources.map((r) => analyzerResource(pack, r, "AnalyzerResource")),
    );
    judged.push(...verdicts(pack, await pack.call("analyzeStack", request), stackUrn(plan.name)));

    const offline = checkPlan(plan).map((v) => `${v.policy} ${v.level} ${v.urn}: ${v.message}`);
    assert.deepEqual(judged.sort(), offline.sort());
    assert.ok(
      judged.some((v) => v.startsWith("gcp-gvnic mandatory")) &&
        judged.some((v) => v.startsWith("media-udp-declared-range mandatory")) &&
        judged.some((v) => v.startsWith("capacity-covers-demand mandatory")) &&
        judged.some((v) => v.startsWith("example-placeholders advisory")),
      judged.join("\n"),
    );
  } finally {
    pack.stop();
  }
});

test("the pack started for an update refuses an example stack, as `avfleet policy` does not", async (t) => {
  if (!prerequisite(t, installFailure)) return;
  const pack = await startPack(false);
  try {
    const request = new pack.pb.AnalyzeStackRequest();
    request.setResourcesList(
      plan.resources.map((r) => analyzerResource(pack, r, "AnalyzerResource")),
    );
    const judged = verdicts(pack, await pack.call("analyzeStack", request), stackUrn(plan.name));
    const refusal = `example-never-applied mandatory ${resource(plan, "stack-facts").urn}: avfleet:example is true, and this is an update: an example stack is never applied`;
    assert.ok(judged.includes(refusal), judged.join("\n"));
    assert.ok(!checkPlan(plan).some((v) => v.policy === "example-never-applied"));
  } finally {
    pack.stop();
  }
});

test("the pack reads the stack's config from PULUMI_CONFIG and refuses facts that disagree, as `avfleet policy` does", async (t) => {
  if (!prerequisite(t, installFailure)) return;
  const config = pulumiConfigMap(
    loadStackFile(stackFileName(join(ROOT, "stacks"), plan.name)).document,
  ).config;
  const lying = structuredClone(plan);
  resource(lying, "stack-facts").inputs.fleet.drainSeconds = 60;
  const pack = await startPack(true, { name: plan.name, config });
  try {
    const request = new pack.pb.AnalyzeStackRequest();
    request.setResourcesList(
      lying.resources.map((r) => analyzerResource(pack, r, "AnalyzerResource")),
    );
    const judged = verdicts(pack, await pack.call("analyzeStack", request), stackUrn(plan.name));
    const refusal = `stack-facts-match-config mandatory ${resource(plan, "stack-facts").urn}: StackFacts say fleet.drainSeconds 60, but the stack's config implies 1800`;
    assert.ok(judged.includes(refusal), judged.join("\n"));
    const offline = checkPlan(lying, POLICIES, config)
      .filter((v) => v.policy === "stack-facts-match-config")
      .map((v) => `${v.policy} ${v.level} ${v.urn}: ${v.message}`);
    assert.deepEqual(
      judged.filter((v) => v.startsWith("stack-facts-match-config")),
      offline,
    );
  } finally {
    pack.stop();
  }
});

test("test of the test: a .json beside an extensionless import breaks the pack under the CLI's loader", async (t) => {
  if (!prerequisite(t, installFailure)) return;
  // CommonJS resolves ./contract/rules to rules.json before rules.ts; tsx would not have noticed.
  writeFileSync(join(dir, "contract/rules.json"), "{}\n");
  const pack = await startPack();
  try {
    const template = resource(plan, "gcp-usw1-template");
    await assert.rejects(
      pack.call("analyze", analyzerResource(pack, template, "AnalyzeRequest")),
      /tier1Eligible\)? is not a function/,
    );
  } finally {
    pack.stop();
    rmSync(join(dir, "contract/rules.json"));
  }
});

test("test of the test: the CLI's loader type-checks the pack, so a type error stops it", async (t) => {
  if (!prerequisite(t, installFailure)) return;
  const file = join(dir, "policies.ts");
  const source = readFileSync(file, "utf8");
  writeFileSync(file, `${source}\nexport const broken: number = "not a number";\n`);
  try {
    await assert.rejects(startPack(), /TS2322/);
  } finally {
    writeFileSync(file, source);
  }
});
