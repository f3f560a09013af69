/** Every avfleet policy, in the order reports list them: the pack (index.ts) serves these. */
import { adminPortsNotFromInternet, mediaUdpDeclaredRange } from "./network";
import {
  awsDrainHook,
  awsEbsEncrypted,
  awsImdsv2,
  gcpDrainFirstScaleIn,
  containerImagePinned,
  gcpGvnic,
  gcpMigKeepsCapacity,
  gcpTier1Eligible,
  hostTuningPresent,
  metalNoRetiredProvisioning,
  metalSshKeySecret,
} from "./hosts";
import { exampleNeverApplied, examplePlaceholders, noPlaceholders } from "./placeholders";
import {
  capacityCoversDemand,
  gcpAutoscalerBounds,
  labelsPresent,
  stackFactsDeclared,
  trafficWeights,
} from "./stack";
import {
  autoscalerMetricPublished,
  bootstrapRunsOnImage,
  lifecycleHookResource,
  awsLaunchHook,
  poolEndpointHasRecord,
  weightedRecordHealthChecked,
} from "./host";
import { cloudDnsOneRoutingPolicy, route53LatencyAwsOnly } from "./dns-steering";
import { pageHasReceiver, poolAlerting } from "./alerts";
import { compiledScalingSafe } from "./scaling";
import { stackFactsMatchConfig } from "./facts-config";
import { fleetMigrationOrder, trafficMigrationOrder } from "./migration";
import type { AvfleetPolicy } from "./policy";

export const POLICIES: AvfleetPolicy[] = [
  stackFactsDeclared,
  stackFactsMatchConfig,
  noPlaceholders,
  examplePlaceholders,
  exampleNeverApplied,
  mediaUdpDeclaredRange,
  adminPortsNotFromInternet,
  hostTuningPresent,
  containerImagePinned,
  gcpGvnic,
  gcpTier1Eligible,
  gcpMigKeepsCapacity,
  gcpAutoscalerBounds,
  gcpDrainFirstScaleIn,
  awsImdsv2,
  awsDrainHook,
  awsEbsEncrypted,
  metalNoRetiredProvisioning,
  metalSshKeySecret,
  labelsPresent,
  capacityCoversDemand,
  trafficWeights,
  trafficMigrationOrder,
  fleetMigrationOrder,
  bootstrapRunsOnImage,
  autoscalerMetricPublished,
  lifecycleHookResource,
  awsLaunchHook,
  compiledScalingSafe,
  weightedRecordHealthChecked,
  poolEndpointHasRecord,
  cloudDnsOneRoutingPolicy,
  route53LatencyAwsOnly,
  poolAlerting,
  pageHasReceiver,
];
