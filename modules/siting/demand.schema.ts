/**
 * JSON Schema of a placement demand file: where clients are, at their peak, and what one
 * session costs in media streams and bandwidth.
 */
import type { FromSchema } from "json-schema-to-ts";
import { latitude, longitude } from "../latency/rtt.schema";

export const placeName = {
  type: "string",
  pattern: "^[a-z0-9][a-z0-9-]*$",
  description: "a lowercase name like sao-paulo",
} as const;

export const demandSchema = {
  type: "object",
  description: "a demand file {session, metros}",
  required: ["metros"],
  additionalProperties: false,
  properties: {
    session: {
      type: "object",
      description: "a mapping {streamsPerSession, avgStreamKbps, headroom, peakToAverage}",
      additionalProperties: false,
      default: {},
      properties: {
        streamsPerSession: {
          type: "number",
          exclusiveMinimum: 0,
          default: 4,
          description: "media streams an SFU forwards per session (audio plus video layers)",
        },
        avgStreamKbps: {
          type: "number",
          exclusiveMinimum: 0,
          default: 800,
          description: "average bitrate of one forwarded stream, kbit/s",
        },
        headroom: {
          type: "number",
          minimum: 0,
          maximum: 2,
          default: 0.3,
          description: "capacity kept above the peak, as a fraction",
        },
        peakToAverage: {
          type: "number",
          minimum: 1,
          default: 2.5,
          description: "peak over daily average traffic, for monthly egress",
        },
      },
    },
    metros: {
      type: "array",
      minItems: 1,
      description: "a list of metros {name, lat, lon, peakSessions, timeZone}",
      items: {
        type: "object",
        description: "a metro {name, lat, lon, peakSessions, timeZone}",
        required: ["name", "lat", "lon", "peakSessions", "timeZone"],
        additionalProperties: false,
        properties: {
          name: placeName,
          lat: latitude,
          lon: longitude,
          peakSessions: {
            type: "integer",
            minimum: 0,
            description: "peak concurrent sessions from this metro",
          },
          timeZone: {
            type: "string",
            pattern: "^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$",
            description: "an IANA time zone like America/Sao_Paulo",
          },
          country: {
            type: "string",
            pattern: "^[A-Z]{2}$",
            description: "an ISO 3166-1 alpha-2 country code like BR",
          },
        },
      },
    },
  },
} as const;

export type DemandFile = FromSchema<typeof demandSchema>;
export type Metro = DemandFile["metros"][number];
export type SessionProfile = Required<NonNullable<DemandFile["session"]>>;
