/**
 * JSON Schema of a whole stack file (`stacks/Pulumi.<stack>.yaml`): the provider keys and
 * one structured spec under the `avfleet:` namespace.
 */
import type { FromSchema, JSONSchema } from "json-schema-to-ts";
import { fleetSchema } from "../config/fleet.schema";
import { trafficSchema } from "../config/traffic";
import { rolloutSchema } from "../config/rollout";
import { NOTIFY_SECRET_KEYS } from "../config/notify.schema";

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
const awsRegion = {
  type: "string",
  pattern: "^[a-z]{2}-[a-z]+-[0-9]$",
  description: "an AWS region like us-east-1",
} as const;
const secret = <const K extends string>(key: K) =>
  ({
    type: "object",
    description: `a Pulumi secret (pulumi config set --secret ${key} < key), never plain text`,
    required: ["secure"],
    additionalProperties: false,
    properties: { secure: { type: "string" } },
  }) as const;

/** A config key outside the avfleet namespace: `<namespace>:<key>`. */
export const OTHER_NAMESPACE = "^(?!avfleet:)[A-Za-z0-9_.-]+:.+$";

/** Config keys whose values must be Pulumi secrets. */
export const SECRET_KEYS = [
  "avfleet:sshPrivateKey",
  NOTIFY_SECRET_KEYS.page,
  NOTIFY_SECRET_KEYS.ticket,
] as const;

const whenKind = <
  const K extends string,
  const R extends readonly string[],
  const P extends Record<string, JSONSchema>,
>(
  kind: K,
  required: R,
  properties: P,
) =>
  ({
    if: {
      required: ["avfleet:fleet"],
      properties: { "avfleet:fleet": { type: "object", properties: { kind: { const: kind } } } },
    },
    then: { required, properties },
  }) as const;

export const stackFileSchema = {
  type: "object",
  description: "a Pulumi stack file with a config: mapping",
  required: ["config"],
  additionalProperties: false,
  properties: {
    secretsprovider: { type: "string" },
    encryptedkey: { type: "string" },
    encryptionsalt: { type: "string" },
    // Pulumi reads `environment:` as a list of ESC environment names or, failing that, as an
    // inline ESC definition it hands to ESC unread (sdk/go/common/workspace/project.go,
    // Environment.UnmarshalYAML and Definition at pulumi/pulumi 1b59498).
    environment: {
      type: ["array", "object"],
      description:
        "the Pulumi ESC environments this stack imports: a list of names, or an inline ESC definition {imports: [...], values: {...}}",
      // What a list holds; ESC itself checks an inline definition.
      items: { type: "string" },
      properties: {
        imports: { type: "array", description: "the ESC environments the definition imports" },
        values: { type: "object", description: "the definition's values (pulumiConfig, …)" },
      },
    },
    config: {
      type: "object",
      description: "a mapping of config keys",
      // Our namespace is strict (a misspelt avfleet key must not pass silently); every other
      // namespace belongs to a provider or an ESC environment (aws:profile, gcp:credentials,
      // aws:assumeRoles, …) and goes through unread. A key without a namespace is the
      // project's own (avfleet:), so it is refused like any unknown avfleet key.
      patternProperties: { [OTHER_NAMESPACE]: true },
      additionalProperties: false,
      properties: {
        "gcp:project": gcpProject,
        "gcp:region": gcpRegion,
        "aws:region": awsRegion,
        "avfleet:sshPrivateKey": secret("avfleet:sshPrivateKey"),
        [NOTIFY_SECRET_KEYS.page]: secret(NOTIFY_SECRET_KEYS.page),
        [NOTIFY_SECRET_KEYS.ticket]: secret(NOTIFY_SECRET_KEYS.ticket),
        "avfleet:example": {
          // Pulumi holds a top-level value as a string and writes it back quoted whenever the CLI
          // saves the file (`config set` of any key): `true` becomes "true". The program decodes
          // both (stack.ts, decodeAvfleetValue), so the file may say either.
          enum: [true, false, "true", "false"],
          description:
            'true (or "true", as the Pulumi CLI rewrites it) for a stack file that is an example: its placeholder values (example ids, domains, address ranges) are reported as advisory instead of mandatory; remove it in a stack you apply',
        },
        "avfleet:fleet": fleetSchema,
        "avfleet:traffic": trafficSchema,
        "avfleet:rollout": rolloutSchema,
      },
      allOf: [
        whenKind("gcp", ["gcp:project", "gcp:region"], {
          "gcp:project": gcpProject,
          "gcp:region": gcpRegion,
        }),
        whenKind("aws", ["aws:region"], { "aws:region": awsRegion }),
        // A site whose key the operator's ssh-agent holds has none in its config.
        {
          if: {
            required: ["avfleet:fleet"],
            properties: {
              "avfleet:fleet": {
                type: "object",
                properties: {
                  kind: { const: "metal" },
                  ssh: {
                    not: {
                      type: "object",
                      required: ["agent"],
                      properties: { agent: { const: true } },
                    },
                  },
                },
              },
            },
          },
          then: {
            required: ["avfleet:sshPrivateKey"],
            properties: { "avfleet:sshPrivateKey": secret("avfleet:sshPrivateKey") },
          },
        },
      ],
    },
  },
} as const;

export type StackFile = FromSchema<typeof stackFileSchema>;
