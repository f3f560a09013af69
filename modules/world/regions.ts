/**
 * Where a cloud region's users live in time: the UTC offset of the region's main market in
 * standard time (no daylight saving: a replay is off by an hour for half the year, which moves
 * a peak, not its size), and that market's IANA time zone, in which compiled schedules run so
 * that they follow the local clock, daylight saving included.
 */
const REGION_TIME: Record<string, [offsetHours: number, timeZone: string]> = {
  "us-west1": [-8, "America/Los_Angeles"],
  "us-west2": [-8, "America/Los_Angeles"],
  "us-west-1": [-8, "America/Los_Angeles"],
  "us-west-2": [-8, "America/Los_Angeles"],
  "us-central1": [-6, "America/Chicago"],
  "us-east1": [-5, "America/New_York"],
  "us-east4": [-5, "America/New_York"],
  "us-east-1": [-5, "America/New_York"],
  "us-east-2": [-5, "America/New_York"],
  "southamerica-east1": [-3, "America/Sao_Paulo"],
  "sa-east-1": [-3, "America/Sao_Paulo"],
  "europe-west1": [1, "Europe/Brussels"],
  "europe-west3": [1, "Europe/Berlin"],
  "europe-west4": [1, "Europe/Amsterdam"],
  "eu-central-1": [1, "Europe/Berlin"],
  "eu-west-1": [0, "Europe/Dublin"],
  "europe-west2": [0, "Europe/London"],
  "asia-south1": [5.5, "Asia/Kolkata"],
  "ap-south-1": [5.5, "Asia/Kolkata"],
  "asia-southeast1": [8, "Asia/Singapore"],
  "ap-southeast-1": [8, "Asia/Singapore"],
  "asia-northeast1": [9, "Asia/Tokyo"],
  "ap-northeast-1": [9, "Asia/Tokyo"],
  "australia-southeast1": [10, "Australia/Sydney"],
  "ap-southeast-2": [10, "Australia/Sydney"],
};

export function utcOffsetHours(region: string): number | undefined {
  return REGION_TIME[region]?.[0];
}

export function timeZoneOf(region: string): string | undefined {
  return REGION_TIME[region]?.[1];
}

/** Standard-time offset of a zone this table names (what a replay interprets a schedule in). */
export function zoneOffsetHours(timeZone: string): number | undefined {
  return Object.values(REGION_TIME).find(([, zone]) => zone === timeZone)?.[0];
}

export const KNOWN_REGIONS = Object.keys(REGION_TIME);
