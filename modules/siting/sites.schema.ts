/**
 * JSON Schema of a placement sites file: the cloud regions and bare-metal sites that may
 * carry media, what a host there costs and carries, and the stack that runs (or would run) it.
 */
import type { FromSchema } from "json-schema-to-ts";
import { latitude, longitude } from "../latency/rtt.schema";
import { placeName } from "./demand.schema";

export const sitesSchema = {
  type: "object",
  description: "a sites file {sites}",
  required: ["sites"],
  additionalProperties: false,
  properties: {
    sites: {
      type: "array",
      minItems: 1,
      description: "a list of candidate sites",
      items: {
        type: "object",
        description:
          "a site {name, provider, lat, lon, stack, mediaRegion, exists, maxHosts, machineType | hostHourlyUsd, …}",
        required: ["name", "provider", "lat", "lon", "stack", "mediaRegion", "exists", "maxHosts"],
        additionalProperties: false,
        properties: {
          name: placeName,
          provider: { type: "string", enum: ["gcp", "aws", "metal"] },
          lat: latitude,
          lon: longitude,
          region: {
            type: "string",
            pattern: "^[a-z]+(-[a-z0-9]+)+$",
            description: "the cloud region, e.g. us-west1 or us-east-1",
          },
          gcpRegion: {
            type: "string",
            pattern: "^[a-z]+-[a-z]+[0-9]+$",
            description:
              "the GCP region Cloud DNS geolocation names this site by (a metal or AWS site: the nearest one)",
          },
          stack: {
            type: "string",
            pattern: "^[a-z0-9][a-z0-9-]*$",
            description: "the fleet stack that runs (or would run) this site, e.g. gcp-us-west1",
          },
          mediaRegion: {
            type: "string",
            pattern: "^[a-z]+(-[a-z0-9]+)*$",
            description: "the media region whose join record steers clients here",
          },
          exists: { type: "boolean", description: "true when the stack runs today" },
          machineType: {
            type: "string",
            description: "a machine type of modules/machines/machine-type-table.json",
          },
          hostHourlyUsd: {
            type: "number",
            exclusiveMinimum: 0,
            description: "$ per host-hour (default: the machine type's price)",
          },
          egressUsdPerGb: {
            type: "number",
            minimum: 0,
            description:
              "$ per GB of egress (default: the provider's highest-volume tier in egress-prices.json)",
          },
          streamsPerHost: {
            type: "integer",
            minimum: 1,
            description: "forwarded streams per host (default: the machine type's)",
          },
          egressGbpsPerHost: {
            type: "number",
            exclusiveMinimum: 0,
            description: "egress cap per host, Gbit/s (default: the machine type's)",
          },
          failureDomains: {
            type: "integer",
            minimum: 1,
            default: 3,
            description: "zones or racks the hosts spread over (capacity's N+1 per domain)",
          },
          minHosts: {
            type: "integer",
            minimum: 0,
            default: 3,
            description: "hosts an open site keeps at least",
          },
          maxHosts: { type: "integer", minimum: 1, description: "the most hosts the site can run" },
          fixedMonthlyUsd: {
            type: "number",
            minimum: 0,
            default: 0,
            description: "$ a month for an open site beyond its hosts (colo, transit commit)",
          },
          newStack: {
            type: "object",
            description:
              "a new site's stack: {template: an existing stack, config: keys to set over it}",
            required: ["template"],
            additionalProperties: false,
            properties: {
              template: {
                type: "string",
                pattern: "^[a-z0-9][a-z0-9-]*$",
                description: "an existing fleet stack of the same provider to start from",
              },
              config: {
                type: "object",
                description: "stack config keys to set, e.g. gcp:project or avfleet:fleet.zones",
              },
            },
          },
        },
      },
    },
  },
} as const;

export type SitesFile = FromSchema<typeof sitesSchema>;
export type SiteSpec = SitesFile["sites"][number];
