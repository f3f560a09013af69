/**
 * The Pulumi program of every avfleet stack (`pulumi up -s <stack>`): one fleet per stack,
 * described by the stack file in stacks/, with its own alerting. Its exports are the stack outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { refuseStaleUpdate } from "./modules/migration-state/fence";
import { declareStack, stackFromPulumi } from "./modules/program/stack";
import { declareAlerting } from "./modules/alerting/alerting";
import { cloudwatchCounters } from "./modules/alerting/cloud";
import { compileScaling } from "./modules/scaling/compile";

/**
 * An update started by a migration or rollout whose lease was since taken is refused before
 * anything is declared (modules/migration-state/fence.ts). An exported async function is awaited by the
 * Node.js language host (@pulumi/pulumi 3.248.0, cmd/run/run.js:517-523).
 */
export = async () => {
  await refuseStaleUpdate(process.env, pulumi.runtime.isDryRun());
  const stack = stackFromPulumi();
  const { config } = stack.document;
  const fleet = config["avfleet:fleet"];
  const outputs = await declareStack(
    stack,
    compileScaling(fleet, config["gcp:region"] ?? config["aws:region"]),
    fleet?.kind === "aws" ? cloudwatchCounters(fleet.pool) : undefined,
  );
  declareAlerting(stack.document);
  return outputs;
};
