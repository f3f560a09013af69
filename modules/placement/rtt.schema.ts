/**
 * JSON Schema of an RTT calibration file: measured round trips between named points, which
 * the distance model is fitted to, plus the last-mile term it cannot see.
 */
import type { FromSchema } from "json-schema-to-ts";
import { latitude, longitude } from "./demand.schema";

export const rttSchema = {
  type: "object",
  description: "an RTT file {source, date, lastMileMs, points, pairs}",
  required: ["source", "date", "lastMileMs", "points", "pairs"],
  additionalProperties: false,
  properties: {
    source: { type: "string", minLength: 1, description: "where the measurements come from" },
    date: { type: "string", pattern: "^\\d{4}-\\d{2}(-\\d{2})?$", description: "YYYY-MM[-DD]" },
    lastMileMs: {
      type: "number",
      minimum: 0,
      description: "ms a client's access network adds at p95 on top of the backbone RTT",
    },
    fitMaxKm: {
      type: "number",
      exclusiveMinimum: 0,
      description:
        "fit only pairs at most this far apart (km): long routes that detour would skew the regional fit",
    },
    points: {
      type: "object",
      description: "a mapping name → {lat, lon}",
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
      description: "a list of [from, to, rttMs]",
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
