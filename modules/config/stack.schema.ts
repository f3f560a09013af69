/**
 * JSON Schema of a whole stack file (`stacks/Pulumi.<stack>.yaml`): the provider keys and
 * one structured spec under the `avfleet:` namespace.
 */
import type { FromSchema } from "json-schema-to-ts";
import { fleetSchema } from "./fleet.schema";

const gcpRegion = {
  type: "string",
  pattern: "^[a-z]+-[a-z]+[0-9]+$",
  description: "a GCP region like us-west1",
} as const;
const gcpProject = {
  type: "string",
  pattern: "^[a-z][a-z0-9-]{4,28}[a-z0-9]$",
  description: "a GCP project id",
} as const;

export const stackFileSchema = {
  type: "object",
  description: "a Pulumi stack file with a config: mapping",
  required: ["config"],
  additionalProperties: false,
  properties: {
    secretsprovider: { type: "string" },
    encryptedkey: { type: "string" },
    encryptionsalt: { type: "string" },
    config: {
      type: "object",
      description: "a mapping of config keys",
      required: ["avfleet:fleet"],
      additionalProperties: false,
      properties: {
        "gcp:project": gcpProject,
        "gcp:region": gcpRegion,
        "avfleet:fleet": fleetSchema,
      },
      if: {
        properties: { "avfleet:fleet": { type: "object", properties: { kind: { const: "gcp" } } } },
      },
      then: {
        required: ["gcp:project", "gcp:region"],
        properties: { "gcp:project": gcpProject, "gcp:region": gcpRegion },
      },
    },
  },
} as const;

export type StackFile = FromSchema<typeof stackFileSchema>;
