/**
 * The Pulumi program of every avfleet stack (`pulumi up -s <stack>`): one fleet per stack,
 * described by the stack file in stacks/, with its own alerting. Its exports are the stack outputs.
 */
import { declareStack, stackFromPulumi } from "./modules/fleets/stack";
import { declareAlerting } from "./modules/observe/alerting";

const stack = stackFromPulumi();
const outputs = declareStack(stack);
declareAlerting(stack.document);
export = outputs;
