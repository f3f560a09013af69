/** Every avfleet policy, in the order reports list them. The pack in policy/ serves these. */
import { adminPortsNotFromInternet, mediaUdpDeclaredRange } from "./network";
import {
  awsDrainHook,
  awsEbsEncrypted,
  awsImdsv2,
  gcpGvnic,
  gcpMigKeepsCapacity,
  gcpTier1Eligible,
  hostTuningPresent,
  metalNoRetiredProvisioning,
  metalSshKeySecret,
} from "./hosts";
import { capacityCoversDemand, gcpAutoscalerBounds, labelsPresent, trafficWeights } from "./stack";
import { poolAlerting } from "./alerts";
import type { AvfleetPolicy } from "./policy";

export const POLICIES: AvfleetPolicy[] = [
  mediaUdpDeclaredRange,
  adminPortsNotFromInternet,
  hostTuningPresent,
  gcpGvnic,
  gcpTier1Eligible,
  gcpMigKeepsCapacity,
  gcpAutoscalerBounds,
  awsImdsv2,
  awsDrainHook,
  awsEbsEncrypted,
  metalNoRetiredProvisioning,
  metalSshKeySecret,
  labelsPresent,
  capacityCoversDemand,
  trafficWeights,
  poolAlerting,
];

export type { AvfleetPolicy, Violation } from "./policy";
