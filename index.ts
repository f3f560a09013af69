/**
 * The Pulumi program of every avfleet stack (`pulumi up -s <stack>`): one fleet per stack,
 * described by the stack file in stacks/, with its own alerting. Its exports are the stack outputs.
 */
import { declareStack, stackFromPulumi } from "./modules/fleets/stack";
import { declareAlerting } from "./modules/observe/alerting";
import { cloudwatchCounters } from "./modules/observe/cloud";
import { compileScaling } from "./modules/scaling/compile";

const stack = stackFromPulumi();
const { config } = stack.document;
const fleet = config["avfleet:fleet"];
const outputs = declareStack(
  stack,
  compileScaling(fleet, config["gcp:region"] ?? config["aws:region"]),
  fleet?.kind === "aws" ? cloudwatchCounters(fleet.pool) : undefined,
);
declareAlerting(stack.document);
export = outputs;
