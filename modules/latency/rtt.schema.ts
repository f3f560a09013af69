/**
 * JSON Schema of an RTT file: published or measured round trips between named points (the
 * placement uses them where they apply and fits its model for the other pairs to them), plus
 * the last-mile term none of them can see. Several files make one matrix.
 */
import type { FromSchema } from "json-schema-to-ts";

export const latitude = {
  type: "number",
  minimum: -90,
  maximum: 90,
  description: "a latitude in degrees (−90…90)",
} as const;
export const longitude = {
  type: "number",
  minimum: -180,
  maximum: 180,
  description: "a longitude in degrees (−180…180)",
} as const;

export const rttSchema = {
  type: "object",
  description: "an RTT file {source, date, lastMileMs?, points, pairs}",
  required: ["source", "date", "points", "pairs"],
  additionalProperties: false,
  properties: {
    source: {
      type: "string",
      minLength: 1,
      description: "where the measurements come from: publisher, title, URL, what each figure is",
    },
    label: {
      type: "string",
      minLength: 1,
      maxLength: 40,
      description:
        "a short name of the source for tables, e.g. Azure P50 (default: the source up to its first comma)",
    },
    date: { type: "string", pattern: "^\\d{4}-\\d{2}(-\\d{2})?$", description: "YYYY-MM[-DD]" },
    lastMileMs: {
      type: "number",
      minimum: 0,
      description:
        "ms a client's access network adds at p95 on top of the backbone RTT; stated by at least one of the RTT files given, and the same wherever stated",
    },
    fitMaxKm: {
      type: "number",
      exclusiveMinimum: 0,
      description:
        "fit the model only to this file's pairs at most this far apart (great circle, km); the others are still used where they apply",
    },
    points: {
      type: "object",
      description:
        "a mapping name → {lat, lon}: region names (e.g. eastus, us-east-1, eu-de), unique across the RTT files given",
      additionalProperties: {
        type: "object",
        description: "a point {lat, lon}",
        required: ["lat", "lon"],
        additionalProperties: false,
        properties: { lat: latitude, lon: longitude },
      },
    },
    pairs: {
      type: "array",
      minItems: 2,
      description: "a list of [from, to, rttMs], one per pair of points",
      items: {
        type: "array",
        description: "a measurement [from point, to point, rtt in ms]",
        minItems: 3,
        maxItems: 3,
        items: [
          { type: "string", description: "a point name" },
          { type: "string", description: "a point name" },
          { type: "number", exclusiveMinimum: 0, description: "a round trip in ms" },
        ],
      },
    },
    clientP95: {
      type: "array",
      description:
        "measured client p95 RTTs [metro, site, ms] (e.g. from the clients' RTT histograms); they replace the model for that pair",
      items: {
        type: "array",
        description: "a measurement [metro, site, p95 rtt in ms]",
        minItems: 3,
        maxItems: 3,
        items: [
          { type: "string", description: "a metro name" },
          { type: "string", description: "a site name" },
          { type: "number", exclusiveMinimum: 0, description: "a p95 round trip in ms" },
        ],
      },
    },
  },
} as const;

export type RttFile = FromSchema<typeof rttSchema>;
