/**
 * The policies live in the pack (policy/), which is published alone and so imports nothing
 * from modules/; the offline runner judges with that very code.
 */
export { POLICIES, type AvfleetPolicy } from "../../policy/contract/policies";
export type { Violation } from "./runner";
