/**
 * Random placement instances for the benchmark and the tests: metros and candidate sites
 * scattered over a continent-sized box, from a seed, so every run sees the same instances.
 */
import { schemaProblems } from "../inputs/validate";
import { demandSchema, type DemandFile } from "./demand.schema";
import { buildInstance, type Instance } from "./instance";
import type { RttModel } from "../latency/rtt";
import type { SiteSpec } from "./sites.schema";
import { rng } from "../world/demand";

const MACHINE_TYPES = { gcp: ["c2d-highcpu-32", "n2d-highcpu-16"], aws: ["c6in.8xlarge"] } as const;

export function randomInstance(
  seed: number,
  size: { metros: number; sites: number },
  model: RttModel,
  options: { budgetMs?: number; lossBudgetMs?: number } = {},
): Instance {
  const rand = rng(seed);
  // Roughly the contiguous US: metro-to-metro distances of 0–4,500 km.
  const point = () => ({ lat: 30 + rand() * 17, lon: -120 + rand() * 45 });
  const demand = {
    metros: Array.from({ length: size.metros }, (_, i) => ({
      name: `m${i}`,
      ...point(),
      peakSessions: Math.round(200 + rand() ** 3 * 20000),
      timeZone: "UTC",
    })),
  };
  schemaProblems(demandSchema, demand); // fills the session defaults
  const sites: SiteSpec[] = Array.from({ length: size.sites }, (_, s) => {
    const kind = rand();
    // Candidate sites sit near demand, as real candidates do (±2°).
    const near = demand.metros[Math.floor(rand() * demand.metros.length)];
    const at = { lat: near.lat + (rand() - 0.5) * 4, lon: near.lon + (rand() - 0.5) * 4 };
    const common = { name: `s${s}`, ...at, stack: `s${s}`, mediaRegion: "r", exists: true };
    if (kind < 0.25) {
      return {
        ...common,
        provider: "metal",
        hostHourlyUsd: 0.6 + rand() * 0.6,
        egressUsdPerGb: 0.002 + rand() * 0.004,
        streamsPerHost: 6000,
        egressGbpsPerHost: 40,
        maxHosts: 20 + Math.floor(rand() * 60),
        failureDomains: 2 + Math.floor(rand() * 3),
        fixedMonthlyUsd: Math.round(rand() * 8000),
        minHosts: 2,
      } as SiteSpec;
    }
    const provider = kind < 0.65 ? "gcp" : "aws";
    const types = MACHINE_TYPES[provider];
    return {
      ...common,
      provider,
      region: `${provider}-r${s}`,
      machineType: types[Math.floor(rand() * types.length)],
      egressUsdPerGb: 0.03 + rand() * 0.06,
      maxHosts: 30 + Math.floor(rand() * 120),
      failureDomains: 3,
      minHosts: 3,
    } as SiteSpec;
  });
  return buildInstance(
    demand as DemandFile,
    sites,
    model,
    options.budgetMs ?? 50,
    options.lossBudgetMs,
  );
}
