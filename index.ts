/**
 * The Pulumi program of every avfleet stack (`pulumi up -s <stack>`): one fleet per stack,
 * described by the stack file in stacks/. Its exports are the stack outputs.
 */
import { declareStack, stackFromPulumi } from "./modules/fleets/stack";

export = declareStack(stackFromPulumi());
