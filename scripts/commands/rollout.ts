/** avfleet rollout — a release through a pool: its plan, its run, and the run's status, approval, abort and rollback. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DEFAULT_STACKS_DIR, loadStacks, type LoadedStack } from "../../modules/stacks/stack";
import { InputError } from "../../modules/inputs/problems";
import { prometheusProvider } from "../../modules/gates/prometheus";
import { localBackend } from "../../modules/migration-state/backend";
import { realClock } from "../../modules/migrate/clock";
import { operatorIdentity } from "../../modules/migration-state/identity";
import { isPostgresUrl, postgresBackend } from "../../modules/migration-state/postgres";
import { cliPulumi, projectRoot } from "../../modules/migrate/pulumi";
import { entryLine } from "../../modules/migrate/render";
import { exitCodeOf, type Outcome } from "../../modules/migrate/run";
import { foldJournal } from "../../modules/migration-state/state";
import { planBatches, type BatchLimits, type RolloutHost } from "../../modules/release/batches";
import {
  abortRollout,
  approveRollout,
  rollbackRollout,
  runRollout,
  type RolloutContext,
} from "../../modules/rollout/executor";
import { cliRunner, realPool } from "../../modules/rollout/real";
import {
  journaledPlan,
  ROLLOUT_DEFAULTS,
  rolloutUnits,
  type RolloutOptions,
} from "../../modules/rollout/units";
import { RolloutWorld } from "../../modules/rollout/world";
import { executorStackName } from "../../modules/adopt/backend";
import { EXIT, UsageError, parseCommandArgs, type Command } from "../cli";
import { PROJECT, PROJECT_FILE } from "./adopt";
import { withStateErrors } from "./migrate";

const DEFAULTS: BatchLimits = ROLLOUT_DEFAULTS;

const ACTIONS = ["plan", "run", "status", "approve", "abort", "rollback"] as const;
type Action = (typeof ACTIONS)[number];

export const command: Command = {
  summary: "a release through a pool: canary, then drained and verified batches (plan, run, …)",
  help: `
Usage: avfleet rollout plan STACK [limits] [--hosts N] [--json] [--stacks-dir DIR]
       avfleet rollout run STACK [limits] (--prometheus URL | --rehearse [--bad-release])
                              [--step] [--state URL] [--by NAME] [--json]
       avfleet rollout status|approve|abort|rollback STACK [--state URL] [--by NAME] [--json]

plan: which hosts take the release first (the canary: a share of the pool, at least one host,
within its largest rack or zone) and then in which batches: never more than --max-unavailable
hosts out of service at once, never more racks (bare metal) or zones (clouds) in one batch than
--domains-at-once. A site's hosts are its inventory's active hosts; a cloud pool's are --hosts
hosts (default its minHosts) spread over its zones, named after the zone. Changes nothing.

run: rolls the release the stack renders (its output release.rendered, recorded by a plain
\`pulumi up\`, which changes no host) through the pool: the canary, baked under the relative
gates (packet loss, jitter p95, join success: its hosts against the rest of the pool, read from
--prometheus), then each batch drained (its calls end, or reach the pool's drainSeconds),
updated, verified healthy on the release. A failed gate, update or verification returns every
updated host to the release the pool ran, drained first. It writes the stack's avfleet:rollout
with \`pulumi config set\` and runs \`pulumi up\` (and gcloud or aws on a cloud pool). Its journal and
lease are the migrations' (--state to share them); a killed run resumes where it stood.
--rehearse runs it on a simulated pool of the stack's kind in seconds (a fresh one each time);
--bad-release makes the release lose one point more packets.

status: where the journal stands. approve: accept a held canary and go on at the next run.
abort: stop a running rollout at its next check. rollback: every updated host back, drained.

Options:
  --max-unavailable N|P%  hosts out of service at once (default ${DEFAULTS.maxUnavailable})
  --canary-share X        share of the pool in the canary, 0 to 0.5 (default ${DEFAULTS.canaryShare})
  --domains-at-once N     racks or zones one batch may span (default ${DEFAULTS.domainsAtOnce})
  --hosts N               plan: a cloud pool's host count (default its minHosts)
  --prometheus URL        run: where the gates and drains read the hosts' series
  --rehearse              a simulated pool instead of the real one
  --bad-release           rehearse: the release loses one point more packets
  --step                  run one step, then stop
  --state URL|DIR         the journal and lease (default .avfleet/rollout; postgres:// to share)
  --by NAME               who acts (default: $AVFLEET_BY, then the OS user)
  --org ORG               your Pulumi Cloud organization: there every call names the stack
                          ORG/avfleet/<stack>; required on Cloud for real runs
  --json                  the plan, the status or the outcome as JSON
  --stacks-dir DIR        where the stack files are (default: stacks)

Examples:
  avfleet rollout plan metal-sjc
  avfleet rollout run gcp-us-west1 --rehearse --canary-share 0.1
  avfleet rollout run metal-sjc --prometheus http://prometheus:9090 --max-unavailable 4`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      "max-unavailable": { type: "string" },
      "canary-share": { type: "string" },
      "domains-at-once": { type: "string" },
      hosts: { type: "string" },
      prometheus: { type: "string" },
      rehearse: { type: "boolean" },
      "bad-release": { type: "boolean" },
      step: { type: "boolean" },
      state: { type: "string" },
      by: { type: "string" },
      json: { type: "boolean" },
      "stacks-dir": { type: "string" },
      org: { type: "string" },
    });
    const action = positionals[0] as Action;
    if (!ACTIONS.includes(action) || positionals.length !== 2) {
      throw new UsageError(
        `expected "rollout ${ACTIONS.join("|")} STACK", got "rollout ${positionals.join(" ")}"`,
      );
    }
    const limits = batchLimits(values);
    const [stack] = loadStacks(values["stacks-dir"] ?? DEFAULT_STACKS_DIR, [positionals[1]]);
    if (!stack.fleet)
      throw new UsageError(`${positionals[1]} is a traffic stack, expected a fleet stack`);
    if (action === "plan") return planCommand(stack, limits, values);
    for (const k of ["hosts"] as const) {
      if (values[k] !== undefined) throw new UsageError(`--${k} goes with plan`);
    }
    if (values["bad-release"] && !values.rehearse)
      throw new UsageError("--bad-release needs --rehearse");
    if (action !== "run" && (values.step || values.rehearse || values.prometheus)) {
      // A rehearsal runs in one go on a fresh simulated pool: nothing of it to approve later.
      throw new UsageError("--step, --rehearse and --prometheus go with run");
    }
    const prometheus = values.prometheus;
    if (prometheus !== undefined && !/^https?:\/\/[^/\s]+/.test(prometheus)) {
      throw new UsageError(`--prometheus ${prometheus} is not an http(s) URL`);
    }
    if (action === "run" && !values.rehearse && !prometheus) {
      throw new UsageError(
        "a real rollout needs --prometheus: its canary's gates and its drains read the hosts' series",
      );
    }
    return await withStateErrors(() =>
      rolloutAction(action, stack, { ...ROLLOUT_DEFAULTS, ...limits }, values),
    );
  },
};

type Values = Record<string, string | boolean | undefined>;

function planCommand(stack: LoadedStack, limits: BatchLimits, values: Values): number {
  const fleet = stack.fleet!;
  const text = values.hosts as string | undefined;
  if (text !== undefined && !/^[1-9]\d{0,5}$/.test(text)) {
    throw new UsageError(`--hosts is "${text}", expected a whole number from 1`);
  }
  const hostCount = text === undefined ? undefined : Number(text);
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
}

/** A rehearsal's simulated pool: the stack's kind, its zones or racks, its drain limit. */
function rehearsalWorld(stack: LoadedStack, bad: boolean): RolloutWorld {
  const fleet = stack.fleet!;
  const domains =
    fleet.kind === "metal"
      ? [...new Set(stack.inventory!.hosts.filter((h) => h.state === "active").map((h) => h.rack))]
      : fleet.kind === "gcp"
        ? fleet.zones
        : fleet.subnets.map((s) => s.zone);
  const hosts =
    fleet.kind === "metal"
      ? stack.inventory!.hosts.filter((h) => h.state === "active").length
      : fleet.minHosts;
  const rendered = "r-00000000000b";
  return new RolloutWorld({
    stack: stack.name,
    kind: fleet.kind,
    domains,
    perDomain: Math.max(1, Math.round(hosts / domains.length)),
    drainSeconds: fleet.drainSeconds,
    running: "r-00000000000a",
    rendered,
    callsPerHost: 600,
    ...(bad ? { extraLoss: { [rendered]: 0.01 } } : {}),
  });
}

async function rolloutAction(
  action: Exclude<Action, "plan">,
  stack: LoadedStack,
  options: RolloutOptions,
  values: Values,
): Promise<number> {
  const json = Boolean(values.json);
  const out = (text: string) => process.stdout.write(text);
  const progress = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);
  const by = operatorIdentity(values.by as string | undefined);
  // Checked before any state is touched: on Pulumi Cloud without --org nothing runs.
  const stackName = values.rehearse
    ? undefined
    : executorStackName(
        values.org as string | undefined,
        process.env,
        join(projectRoot(dirname(stack.file)), PROJECT_FILE),
        PROJECT,
      );
  // A rehearsal keeps nothing: its journal lives as long as its simulated pool.
  const stateSpec = values.rehearse
    ? mkdtempSync(join(tmpdir(), "avfleet-rollout-"))
    : ((values.state as string | undefined) ??
      process.env.AVFLEET_STATE ??
      join(".avfleet", "rollout"));
  const backend = isPostgresUrl(stateSpec) ? postgresBackend(stateSpec) : localBackend(stateSpec);
  const key = `release/${stack.name}`;
  try {
    const world = values.rehearse
      ? rehearsalWorld(stack, Boolean(values["bad-release"]))
      : undefined;
    const runners = world
      ? {
          pulumi: (a: string[]) => world.pulumi(a),
          run: (a: string[]) => world.run(a),
          clock: world.clock,
        }
      : {
          pulumi: cliPulumi(projectRoot(dirname(stack.file)), process.env, stateSpec, stackName),
          run: cliRunner(),
          clock: realClock,
        };
    const driver = world ? world.driver : realPool(stack, runners);
    let pool;
    try {
      pool = await driver.read();
    } catch (err) {
      if (action === "run")
        throw new InputError([`${stack.file}: (pool): ${(err as Error).message}`]);
      pool = undefined;
    }
    // Once begun, a rollout goes by the batches it planned, whatever the pool's names now.
    const planned = pool
      ? journaledPlan(foldJournal(await backend.read(key)), pool.rendered)
      : undefined;
    const units = pool ? rolloutUnits(pool, options, planned) : [];
    const ctx: RolloutContext = {
      file: stack.file,
      units,
      backend,
      key,
      by,
      drivers: {
        pulumi: runners.pulumi,
        metrics: world
          ? world.metrics
          : prometheusProvider({
              url: values.prometheus as string,
              region: stack.fleet!.mediaRegion,
            }),
        clock: runners.clock,
      },
      mode: world ? "rehearse" : "rollout",
      approvalTtlMs: () => options.approvalTtlMs,
      pool: pool!,
      driver,
      options,
      onEntry: (entry, all) => {
        const line = action === "run" || action === "rollback" ? entryLine(entry, all) : undefined;
        if (line) progress(line);
      },
    };
    const finish = (outcome: Outcome) => {
      out(
        json
          ? `${JSON.stringify({ outcome }, null, 2)}\n`
          : `\n${outcome.kind}: ${outcome.reason}\n`,
      );
      if (!json && outcome.kind === "held")
        out(`next: avfleet rollout approve ${stack.name} --by <name>, or rollback\n`);
      return exitCodeOf(outcome.kind);
    };
    switch (action) {
      case "status": {
        const state = foldJournal(await backend.read(key));
        const status = {
          stack: stack.name,
          state: state.halt?.kind ?? (state.hash ? "interrupted" : "never run"),
          reason: state.halt?.reason,
          steps: units.map((u) => ({
            id: u.id,
            title: u.title,
            done: state.completed.has(u.id),
            summary: state.completed.get(u.id)?.summary,
          })),
          pendingApproval: state.pendingApproval && {
            unit: state.pendingApproval.unit,
            reason: state.pendingApproval.reason,
          },
        };
        if (json) out(`${JSON.stringify(status, null, 2)}\n`);
        else {
          out(`${stack.name}: ${status.state}${status.reason ? `: ${status.reason}` : ""}\n`);
          for (const s of status.steps)
            out(
              `  ${s.done ? "✓" : "·"} ${s.id}. ${s.title}${s.summary ? ` — ${s.summary}` : ""}\n`,
            );
        }
        return EXIT.ok;
      }
      case "approve": {
        const approval = await approveRollout(ctx);
        out(
          json
            ? `${JSON.stringify({ approval }, null, 2)}\n`
            : `approved step ${approval.unit} by ${approval.by}; run again to go on\n`,
        );
        return EXIT.ok;
      }
      case "abort":
        return finish(await abortRollout(ctx, "operator abort"));
      case "rollback":
        return finish(await rollbackRollout(ctx));
      case "run":
        return finish(await runRollout(ctx, { step: Boolean(values.step) }));
    }
    throw new Error(`no action ${action}`);
  } finally {
    await backend.close();
    if (values.rehearse) rmSync(stateSpec, { recursive: true, force: true });
  }
}

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
