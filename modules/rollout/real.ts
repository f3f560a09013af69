/**
 * A real rollout's pool: its driver over the real CLIs and its read (read.ts) over their
 * answers, from the stack file as the CLI loaded it.
 */
import type { LoadedStack } from "../stacks/stack";
import { groupName } from "../fleets/aws-args";
import { awsRollout, gcpRollout } from "../release/cloud-rollout";
import type { Clock } from "../migrate/clock";
import { pulumiArgs } from "../runbook/pulumi-args";
import { summarize, type PulumiRunner } from "../migrate/pulumi";
import { awsDriver, gcpDriver, metalDriver, type CliRunner } from "./drivers";
import type { PoolDriver } from "./executor";
import { awsRead, gcpRead, metalRead } from "./read";

/** A CLI's JSON answer, or an Error naming the command and what it said. */
async function json(run: CliRunner, argv: string[]): Promise<any> {
  const result = await run(argv);
  if (result.exitCode !== 0) throw new Error(`${argv.slice(0, 4).join(" ")}: ${summarize(result)}`);
  try {
    return JSON.parse(result.stdout || "null");
  } catch {
    throw new Error(`${argv.slice(0, 4).join(" ")}: not JSON: ${summarize(result)}`);
  }
}

export function realPool(
  stack: LoadedStack,
  runners: { pulumi: PulumiRunner; run: CliRunner; clock: Clock },
): PoolDriver {
  const fleet = stack.fleet!;
  const config = stack.document.config;
  const pulumiJson = (args: string[]) =>
    json((argv) => runners.pulumi(argv.slice(1)), ["pulumi", ...args]);
  const common = async () => {
    const outputs = await pulumiJson(pulumiArgs.outputs(stack.name));
    return {
      outputs,
      common: {
        stack: stack.name,
        pool: fleet.pool,
        drainSeconds: fleet.drainSeconds,
        release: outputs?.release,
        rollout: config["avfleet:rollout"],
      },
    };
  };
  if (fleet.kind === "metal") {
    return metalDriver({
      stack: stack.name,
      pulumi: runners.pulumi,
      read: async () => {
        const { common: c } = await common();
        const exported = await pulumiJson(["stack", "export", "--stack", stack.name]);
        const hosts = stack
          .inventory!.hosts.filter((h) => h.state === "active")
          .map((h) => ({ name: h.name, rack: h.rack, class: h.class }));
        return metalRead({ ...c, hosts, exported });
      },
    });
  }
  if (fleet.kind === "gcp") {
    // Pulumi names the MIG (auto-naming); its instance group, which the stack outputs, has
    // the same name. Known after the first read.
    const pool = {
      project: config["gcp:project"]!,
      region: config["gcp:region"]!,
      instanceGroupManager: "",
    };
    const zones = new Map<string, string>();
    return gcpDriver({
      stack: stack.name,
      pool,
      ...runners,
      zoneOf: (name) => zones.get(name) ?? fleet.zones[0],
      read: async () => {
        const { outputs, common: c } = await common();
        pool.instanceGroupManager = String(outputs?.instanceGroup ?? "")
          .split("/")
          .at(-1)!;
        const listInstances = await json(runners.run, gcpRollout.running(pool).argv);
        for (const h of gcpRollout.runningHosts(listInstances)) zones.set(h.name, h.zone);
        return gcpRead({ ...c, listInstances });
      },
    });
  }
  const pool = { region: config["aws:region"]!, autoScalingGroup: groupName(fleet) };
  return awsDriver({
    stack: stack.name,
    pulumi: runners.pulumi,
    run: runners.run,
    pool,
    read: async () => {
      const { common: c } = await common();
      const describeGroups = await json(runners.run, awsRollout.running(pool).argv);
      return awsRead({ ...c, describeGroups });
    },
  });
}

/** gcloud and aws through zx (arguments quoted by zx, never a shell string). */
export function cliRunner(env: NodeJS.ProcessEnv = process.env): CliRunner {
  return async (argv) => {
    const { $ } = await import("zx");
    const [bin, ...args] = argv;
    const result = await $({ env, nothrow: true, quiet: true })`${bin} ${args}`;
    return { exitCode: result.exitCode ?? 1, stdout: result.stdout, stderr: result.stderr };
  };
}
