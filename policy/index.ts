/**
 * The avfleet policy pack. Constructing a PolicyPack starts the analyzer's gRPC server, so
 * this is the only place that does it; tests run the same policies through
 * modules/policy/runner.ts.
 */
import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "../modules/policy";

new PolicyPack("avfleet", { policies: POLICIES });
