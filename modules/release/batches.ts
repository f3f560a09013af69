/**
 * The order a release reaches a pool's hosts in: a canary first (a share of the pool, at least
 * one host, within one failure domain), then batches that never take more than `maxUnavailable`
 * hosts out of service at once nor span more failure domains (racks on bare metal, zones on
 * the clouds) than allowed. Pure; the rollout drains, updates, verifies and returns each batch.
 */

export interface RolloutHost {
  name: string;
  /** Its failure domain: the rack on bare metal, the zone on a cloud. */
  domain: string;
}

export interface BatchLimits {
  /** Share of the pool's hosts that take the release first (0.01: 1 %); at least one host. */
  canaryShare: number;
  /** Most hosts out of service at once: a count, or a share of the pool such as "10%". */
  maxUnavailable: number | `${number}%`;
  /** Failure domains one batch may span (1: never two racks, or two zones, at once). */
  domainsAtOnce: number;
}

export interface RolloutBatches {
  canary: string[];
  batches: string[][];
}

/** The most hosts out of service at once, as a count of this pool's hosts (at least one). */
export function unavailableHosts(limit: BatchLimits["maxUnavailable"], pool: number): number {
  const count =
    typeof limit === "number" ? limit : Math.floor((Number(limit.slice(0, -1)) / 100) * pool);
  return Math.max(1, Math.min(pool, count));
}

/** Hosts by failure domain, domains and hosts in name order: the same plan from the same pool. */
function byDomain(hosts: readonly RolloutHost[]): Map<string, string[]> {
  const domains = new Map<string, string[]>();
  for (const h of [...hosts].sort((a, b) => a.name.localeCompare(b.name))) {
    domains.set(h.domain, [...(domains.get(h.domain) ?? []), h.name]);
  }
  return new Map([...domains].sort(([a], [b]) => a.localeCompare(b)));
}

export function planBatches(hosts: readonly RolloutHost[], limits: BatchLimits): RolloutBatches {
  if (hosts.length === 0) return { canary: [], batches: [] };
  const perBatch = unavailableHosts(limits.maxUnavailable, hosts.length);
  const domains = byDomain(hosts);
  // The canary comes out of the largest domain: one domain at risk, and the most peers beside it.
  const canarySize = Math.min(perBatch, Math.max(1, Math.ceil(limits.canaryShare * hosts.length)));
  const [largest] = [...domains].sort(([, a], [, b]) => b.length - a.length)[0];
  const canary = domains.get(largest)!.slice(0, canarySize);
  domains.set(largest, domains.get(largest)!.slice(canarySize));
  const batches: string[][] = [];
  let batch: string[] = [];
  let spanned = 0;
  for (const names of domains.values()) {
    if (names.length === 0) continue;
    if (batch.length > 0 && spanned >= limits.domainsAtOnce) {
      batches.push(batch);
      [batch, spanned] = [[], 0];
    }
    spanned++;
    for (const name of names) {
      if (batch.length === perBatch) {
        batches.push(batch);
        [batch, spanned] = [[], 1];
      }
      batch.push(name);
    }
  }
  if (batch.length > 0) batches.push(batch);
  return { canary, batches };
}
