/**
 * The pack's policies, as one list, for the offline runner (modules/policy-runner): what it
 * runs is what `pulumi preview --policy-pack policy` runs. Each policy's code stays private to
 * the pack; this file is the one door from the contract to it.
 */
export { POLICIES } from "../policies";
export { isStackPolicy, type AvfleetPolicy } from "../policy";
