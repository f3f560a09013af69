/**
 * Where a cloud region's users live in time: the UTC offset of the region's main market, in
 * standard time (no daylight saving: a replay is off by an hour for half the year, which moves
 * a peak, not its size).
 */
const UTC_OFFSET_HOURS: Record<string, number> = {
  "us-west1": -8,
  "us-west2": -8,
  "us-west-1": -8,
  "us-west-2": -8,
  "us-central1": -6,
  "us-east1": -5,
  "us-east4": -5,
  "us-east-1": -5,
  "us-east-2": -5,
  "southamerica-east1": -3,
  "sa-east-1": -3,
  "europe-west1": 1,
  "europe-west3": 1,
  "europe-west4": 1,
  "eu-central-1": 1,
  "eu-west-1": 0,
  "europe-west2": 0,
  "asia-south1": 5.5,
  "ap-south-1": 5.5,
  "asia-southeast1": 8,
  "ap-southeast-1": 8,
  "asia-northeast1": 9,
  "ap-northeast-1": 9,
  "australia-southeast1": 10,
  "ap-southeast-2": 10,
};

export function utcOffsetHours(region: string): number | undefined {
  return UTC_OFFSET_HOURS[region];
}

export const KNOWN_REGIONS = Object.keys(UTC_OFFSET_HOURS);
