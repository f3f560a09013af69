/**
 * The program of every stack: read the stack's config from Pulumi, validate it with the same
 * schema and checks as the offline loader, and declare the one fleet it describes.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  stackDocumentFromConfigMap,
  validateStackDocument,
  stackFileName,
  DEFAULT_STACKS_DIR,
} from "../config/stack";
import type { StackFile } from "../config/stack.schema";
import { GcpFleet } from "./gcp";
import { cloudInitUserData } from "./host-tuning";

/** The stack's config document, as `pulumi up` or the mock runtime hands it over. */
export function stackDocumentFromPulumi(): StackFile {
  const file = stackFileName(DEFAULT_STACKS_DIR, pulumi.getStack());
  return validateStackDocument(file, stackDocumentFromConfigMap(pulumi.runtime.allConfig()));
}

/** Declares the stack's resources; returns its outputs. */
export function declareStack(stack: StackFile): Record<string, pulumi.Input<unknown>> {
  const spec = stack.config["avfleet:fleet"];
  const common = {
    kind: spec.kind,
    pool: spec.pool,
    mediaRegion: spec.mediaRegion,
    minHosts: spec.minHosts,
    maxHosts: spec.maxHosts,
    healthCheckPath: spec.ports.health.path,
  };
  switch (spec.kind) {
    case "gcp": {
      const fleet = new GcpFleet(spec.pool, {
        spec,
        project: stack.config["gcp:project"]!,
        region: stack.config["gcp:region"]!,
        userData: cloudInitUserData(spec),
      });
      return { ...common, instanceGroup: fleet.instanceGroup };
    }
  }
}
