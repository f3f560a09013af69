/**
 * The avfleet policy pack. Constructing a PolicyPack starts the analyzer's gRPC server, so
 * this is the only place that does it; `avfleet policy` runs the same POLICIES offline
 * through modules/policy-runner/runner.ts.
 */
import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./policies";

new PolicyPack("avfleet", { policies: POLICIES });
