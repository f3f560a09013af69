/** avfleet rollout plan — the order a release would reach a pool's hosts. */
import { DEFAULT_STACKS_DIR, loadStacks } from "../../modules/config/stack";
import { planBatches, type BatchLimits, type RolloutHost } from "../../modules/release/batches";
import { EXIT, UsageError, parseCommandArgs, type Command } from "../cli";

const DEFAULTS: BatchLimits = { canaryShare: 0.01, maxUnavailable: "10%", domainsAtOnce: 1 };

export const command: Command = {
  summary: "the order a release would reach a pool's hosts: canary, then batches",
  help: `
Usage: avfleet rollout plan STACK [--max-unavailable N|P%] [--canary-share X]
                                  [--domains-at-once N] [--hosts N] [--json] [--stacks-dir DIR]

Prints which hosts take a release first (the canary: a share of the pool, at least one host,
within its largest rack or zone) and then in which batches: never more than --max-unavailable
hosts out of service at once, never more racks (bare metal) or zones (clouds) in one batch than
--domains-at-once. A bare-metal site's hosts are its inventory's active hosts; a cloud pool's
are --hosts hosts (default its minHosts) spread over its zones, named after the zone. Nothing is
changed: running a release (drain, update, verify, return each batch) is not built yet.

Options:
  --max-unavailable N|P%  hosts out of service at once (default ${DEFAULTS.maxUnavailable})
  --canary-share X        share of the pool in the canary, 0 to 0.5 (default ${DEFAULTS.canaryShare})
  --domains-at-once N     racks or zones one batch may span (default ${DEFAULTS.domainsAtOnce})
  --hosts N               a cloud pool's host count (default its minHosts)
  --json                  {"stack","hosts","canary":[...],"batches":[[...]]}
  --stacks-dir DIR        where the stack files are (default: stacks)

Examples:
  avfleet rollout plan metal-sjc
  avfleet rollout plan gcp-us-west1 --hosts 40 --max-unavailable 3`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      "max-unavailable": { type: "string" },
      "canary-share": { type: "string" },
      "domains-at-once": { type: "string" },
      hosts: { type: "string" },
      json: { type: "boolean" },
      "stacks-dir": { type: "string" },
    });
    if (positionals[0] !== "plan" || positionals.length !== 2) {
      throw new UsageError(`expected "rollout plan STACK", got "rollout ${positionals.join(" ")}"`);
    }
    const limits = batchLimits(values);
    const whole = (option: string, text: string | undefined) => {
      if (text === undefined) return undefined;
      if (!/^[1-9]\d{0,5}$/.test(text)) {
        throw new UsageError(`--${option} is "${text}", expected a whole number from 1`);
      }
      return Number(text);
    };
    const hostCount = whole("hosts", values.hosts);
    const [stack] = loadStacks(values["stacks-dir"] ?? DEFAULT_STACKS_DIR, [positionals[1]]);
    const fleet = stack.fleet;
    if (!fleet)
      throw new UsageError(`${positionals[1]} is a traffic stack, expected a fleet stack`);
    let hosts: RolloutHost[];
    if (fleet.kind === "metal") {
      if (hostCount !== undefined) throw new UsageError("--hosts is for cloud pools");
      hosts = stack
        .inventory!.hosts.filter((h) => h.state === "active")
        .map((h) => ({ name: h.name, domain: h.rack }));
    } else {
      const zones = fleet.kind === "gcp" ? fleet.zones : fleet.subnets.map((s) => s.zone);
      hosts = Array.from({ length: hostCount ?? fleet.minHosts }, (_, i) => {
        const zone = zones[i % zones.length];
        return {
          name: `${zone}-${String(Math.floor(i / zones.length) + 1).padStart(2, "0")}`,
          domain: zone,
        };
      });
    }
    const plan = planBatches(hosts, limits);
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ stack: stack.name, hosts: hosts.length, ...plan })}\n`,
      );
      return EXIT.ok;
    }
    const domainOf = new Map(hosts.map((h) => [h.name, h.domain]));
    const where = (names: string[]) => [...new Set(names.map((n) => domainOf.get(n)))].join(", ");
    const lines = [
      `${stack.name}: ${hosts.length} hosts, at most ${plan.batches.reduce((n, b) => Math.max(n, b.length), plan.canary.length)} out of service at once, ${plan.batches.length} batches after the canary`,
      `  canary (${where(plan.canary)}): ${plan.canary.join(" ")}`,
      ...plan.batches.map((b, i) => `  batch ${i + 1} (${where(b)}): ${b.join(" ")}`),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    return EXIT.ok;
  },
};

function batchLimits(values: Record<string, string | boolean | undefined>): BatchLimits {
  const text = (k: string) => values[k] as string | undefined;
  const unavailable = text("max-unavailable");
  if (unavailable !== undefined && !/^([1-9]\d{0,5}|([1-9]\d?|100)%)$/.test(unavailable)) {
    throw new UsageError(
      `--max-unavailable is "${unavailable}", expected a host count from 1 or a share from 1% to 100%`,
    );
  }
  const share = text("canary-share");
  if (share !== undefined && !(/^\d*\.?\d+$/.test(share) && Number(share) <= 0.5)) {
    throw new UsageError(`--canary-share is "${share}", expected a number from 0 to 0.5`);
  }
  const domains = text("domains-at-once");
  if (domains !== undefined && !/^[1-9]\d{0,2}$/.test(domains)) {
    throw new UsageError(`--domains-at-once is "${domains}", expected a whole number from 1`);
  }
  return {
    canaryShare: share !== undefined ? Number(share) : DEFAULTS.canaryShare,
    maxUnavailable:
      unavailable === undefined
        ? DEFAULTS.maxUnavailable
        : unavailable.endsWith("%")
          ? (unavailable as `${number}%`)
          : Number(unavailable),
    domainsAtOnce: domains !== undefined ? Number(domains) : DEFAULTS.domainsAtOnce,
  };
}
