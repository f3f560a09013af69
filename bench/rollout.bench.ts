/**
 * A release rolled through three pools (GCP, AWS, bare metal) in drained, canaried batches on
 * the rollout's rehearsal world, then a bad release (the canary's packet loss one point higher)
 * stopped at its canary and rolled back. Prints a row per rollout and a last line:
 * `rollout: providers= hosts= batches= canary_hosts= calls_cut= max_unavailable_exceeded=
 * bad_release_stopped= rolled_back_hosts= state_kib_per_host= site_state_mib_5000=` (the state
 * figures as bench:state measures them: metal-sjc's largest host, and a 5,000-host site).
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_STACKS_DIR, stackFileName } from "../modules/stacks/stack";
import { rehearseRollout } from "../modules/rollout/rehearse";
import { writeSite } from "./estate";
import { measureSite } from "./state";
import { RolloutWorld, type WorldOptions } from "../modules/rollout/world";

const OLD = "r-000000000001";
const NEW = "r-000000000002";
const BAD = "r-00000000000b";

/** A busy host's calls; a canary of 10 % (at least a rack's or zone's worth of joins to tell join success within its 0.2 % floor). */
const LOAD = { callsPerHost: 600 };
const LIMITS = { canaryShare: 0.1, maxUnavailable: "10%" as const };

const POOLS: Omit<WorldOptions, "running" | "rendered">[] = [
  {
    stack: "gcp-us-west1",
    kind: "gcp",
    domains: ["us-west1-a", "us-west1-b", "us-west1-c"],
    perDomain: 10,
    drainSeconds: 1800,
  },
  {
    stack: "aws-us-east-1",
    kind: "aws",
    domains: ["us-east-1a", "us-east-1b", "us-east-1c"],
    perDomain: 10,
    drainSeconds: 1800,
  },
  {
    stack: "metal-sjc",
    kind: "metal",
    domains: ["r01", "r02", "r03", "r04"],
    perDomain: 12,
    drainSeconds: 1800,
  },
];

async function main(): Promise<void> {
  let hosts = 0;
  let batches = 0;
  let canaryHosts = 0;
  let cut = 0;
  let exceeded = 0;
  console.log(
    "pool            release          outcome      hosts batches canary  cut  at_limit  max_out  hours",
  );
  const row = (
    stack: string,
    release: string,
    r: Awaited<ReturnType<typeof rehearseRollout>>,
    w: RolloutWorld,
  ) => {
    const b = r.units.filter((u) => u.kind === "batch");
    console.log(
      `${stack.padEnd(15)} ${release.padEnd(16)} ${r.outcome.kind.padEnd(12)} ${String(w.read().hosts.length).padStart(5)} ${String(b.length).padStart(7)} ${String(b[0]?.hosts.length ?? 0).padStart(6)} ${String(w.tally.callsCut).padStart(4)} ${String(w.tally.callsCutAtLimit).padStart(9)} ${String(w.tally.maxOutOfService).padStart(8)} ${(w.now / 3_600_000).toFixed(1).padStart(6)}`,
    );
    return b;
  };
  for (const pool of POOLS) {
    const world = new RolloutWorld({ ...pool, ...LOAD, running: OLD, rendered: NEW });
    const r = await rehearseRollout(world, LIMITS);
    if (r.outcome.kind !== "done")
      throw new Error(`${pool.stack}: ${r.outcome.kind}: ${r.outcome.reason}`);
    const b = row(pool.stack, NEW, r, world);
    hosts += world.read().hosts.length;
    batches += b.length;
    canaryHosts += b[0].hosts.length;
    cut += world.tally.callsCut;
    exceeded += world.tally.maxUnavailableExceeded;
  }
  const bad = new RolloutWorld({
    ...POOLS[2],
    ...LOAD,
    running: NEW,
    rendered: BAD,
    extraLoss: { [BAD]: 0.01 },
  });
  const r = await rehearseRollout(bad, LIMITS);
  row(POOLS[2].stack, `${BAD} (bad)`, r, bad);
  const [canary] = r.units.flatMap((u) => (u.kind === "batch" ? [u.hosts] : []));
  const stopped = r.outcome.kind === "rolled-back" && bad.tally.hostsUpdated === canary.length;
  cut += bad.tally.callsCut;
  exceeded += bad.tally.maxUnavailableExceeded;
  console.log(`\nbad release: ${r.outcome.reason}`);
  // What Pulumi keeps per bare-metal host (bench:state prints the detail): the example sites'
  // largest host, and a generated 5,000-host site, with the operator's ssh-agent.
  process.stderr.write("rollout: measuring the state of metal-sjc and a 5,000-host site...\n");
  const perHost = measureSite(stackFileName(DEFAULT_STACKS_DIR, "metal-sjc"), "agent");
  const dir = mkdtempSync(join(tmpdir(), "avfleet-rollout-state-"));
  for (const sub of ["stacks", "inventory"]) mkdirSync(join(dir, sub));
  writeSite(dir, "metal-big", 5000);
  const site = measureSite(stackFileName(join(dir, DEFAULT_STACKS_DIR), "metal-big"), "agent");
  const kib = (perHost.maxPerHost.compact / 1024).toFixed(2);
  const mib = (site.total.compact / 1024 / 1024).toFixed(1);
  console.log(
    `rollout: providers=${POOLS.length} hosts=${hosts} batches=${batches} canary_hosts=${canaryHosts} calls_cut=${cut} max_unavailable_exceeded=${exceeded} bad_release_stopped=${stopped ? 1 : 0} rolled_back_hosts=${bad.tally.hostsRolledBack} state_kib_per_host=${kib} site_state_mib_5000=${mib}`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
