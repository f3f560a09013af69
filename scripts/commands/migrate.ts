/** avfleet migrate — run a region's migration runbook step by step, or rehearse it. */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_STACKS_DIR } from "../../modules/config/stack";
import { InputError } from "../../modules/config/validate";
import { realClock } from "../../modules/migrate/clock";
import { dryRun } from "../../modules/migrate/dry-run";
import {
  abortMigration,
  approveMigration,
  exitCodeOf,
  regionsInProgress,
  rollbackMigration,
  runMigration,
  statePaths,
  type Drivers,
  type ExecutorContext,
  type Outcome,
} from "../../modules/migrate/executor";
import { serveExposition } from "../../modules/migrate/exposition";
import { readJournal } from "../../modules/migrate/journal";
import { LockedError, processAlive, readLock } from "../../modules/migrate/lock";
import { noMetrics } from "../../modules/migrate/metrics";
import { prometheusProvider } from "../../modules/migrate/prometheus";
import { planUnits } from "../../modules/migrate/plan";
import { cliPulumi, projectRoot, pulumiArgs } from "../../modules/migrate/pulumi";
import { entryLine, renderPlan, renderStatus, statusOf } from "../../modules/migrate/render";
import { loadRunbook, type LoadedRunbook } from "../../modules/migrate/runbook";
import { foldJournal } from "../../modules/migrate/state";
import {
  createWorld,
  currentWeights,
  FAULT_HELP,
  loadWorld,
  parseFault,
  saveWorld,
  worldDrivers,
  type Fault,
  type World,
} from "../../modules/migrate/world";
import { EXIT, UsageError, parseCommandArgs, type Command } from "../cli";

const ACTIONS = ["plan", "run", "status", "approve", "abort", "rollback"] as const;
type Action = (typeof ACTIONS)[number];

/**
 * Test hook: SIGKILL this process right after its first durable write of a kind — a journal
 * entry type (`step-end`, `weights-intent`, …) or `world` (a rehearsal world save).
 */
const KILL_ENV = "AVFLEET_TEST_SIGKILL_AFTER";

export const command: Command = {
  summary:
    "run a region's migration runbook step by step (plan, run, status, approve, abort, rollback)",
  help: `
Usage: avfleet migrate <plan|run|status|approve|abort|rollback> <runbook> [options]

  plan      every step and the exact pulumi commands it runs
  run       run from where the journal stands until an approval, a halt or the end
  status    where it stands: current weights, last gates, pending approvals
  approve   approve the pending approval (an approve step, or a hold) --by NAME
  abort     stop now, even while waiting for an approval; run again to go on
  rollback  fast path back to the last good weights, skipping gates

The runbook (runbooks/<media-region>.yaml) is validated against the stacks first; a bad one
stops everything (exit 2). A journal per runbook records every step, command, gate and
approval, so run resumes after the last completed step; a changed runbook needs --restart.
Regions go one at a time: a real run refuses while another region's migration is unfinished.

Options:
  --stacks-dir DIR   stack files (default: stacks)
  --state-dir DIR    journals and locks (default: $AVFLEET_STATE_DIR or .avfleet/migrate),
                     one folder per media region
  --json             machine-readable output on stdout (progress goes to stderr)
  --by NAME          who approves, aborts or rolls back (approve: required)
  --reason TEXT      abort: why
run only:
  --step             run one step, then stop
  --dry-run          pulumi previews against copies of the config instead of updates
  --restart          start over after a changed runbook or a rollback (weights in place are
                     not applied again; a rehearsal starts a new world)
  --rehearse         against the built-in simulated world (also for status, approve, abort,
                     rollback): instant stacks, diurnal sessions, accelerated time
  --fault SPEC       rehearsal fault, repeatable: ${FAULT_HELP}
  --seed N           rehearsal noise seed (default 1)
  --metrics-port N   serve the world's metrics (Prometheus text format) on 127.0.0.1:N/metrics
                     during the rehearsal and after it, until interrupted
  --prometheus URL   gates query Prometheus' HTTP API at URL (real runs; PromQL per pool and
                     region, timeouts, retries, a hold after 5 failed queries in a row)

Pulumi is the CLI from $PULUMI or PATH. Metrics for gates come from --prometheus or the
rehearsal world; a real run without --prometheus holds at the first bake (inconclusive).

Examples:
  avfleet migrate plan runbooks/us-west.yaml
  avfleet migrate run runbooks/us-west.yaml --rehearse --fault target-loss=3@25
  avfleet migrate approve runbooks/us-west.yaml --by alice`,
  async run(argv) {
    try {
      return await migrate(argv);
    } catch (err) {
      // Another executor on this runbook is not a crash: say who holds it, no stack trace.
      if (!(err instanceof LockedError)) throw err;
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT.failure;
    }
  },
};

/**
 * The rehearsal world in `dir`: resumed when it exists (with the same faults, for run),
 * created by run when it does not.
 */
function openRehearsal(
  dir: string,
  o: {
    action: Action;
    file: string;
    loaded: LoadedRunbook;
    faults: Fault[];
    seed: number;
    afterWrite?: (what: string) => void;
  },
): World {
  const worldFile = join(dir, "world.json");
  if (!existsSync(worldFile)) {
    if (o.action !== "run") {
      throw new UsageError(
        `no rehearsal in ${dir}; start one with: avfleet migrate run ${o.file} --rehearse`,
      );
    }
    const state = createWorld(o.loaded, o.seed, o.faults);
    saveWorld(worldFile, state);
    return worldDrivers(worldFile, state, o.afterWrite);
  }
  const state = loadWorld(worldFile);
  const specs = (faults: Fault[]) =>
    faults
      .map((f) => f.spec)
      .sort()
      .join(" ");
  if (o.action === "run" && specs(state.faults) !== specs(o.faults)) {
    throw new UsageError(
      `the rehearsal in ${dir} runs with faults [${specs(state.faults)}], not [${specs(o.faults)}]; add --restart to start a new rehearsal`,
    );
  }
  return worldDrivers(worldFile, state, o.afterWrite);
}

async function migrate(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    json: { type: "boolean" },
    "stacks-dir": { type: "string" },
    "state-dir": { type: "string" },
    by: { type: "string" },
    reason: { type: "string" },
    step: { type: "boolean" },
    "dry-run": { type: "boolean" },
    restart: { type: "boolean" },
    rehearse: { type: "boolean" },
    fault: { type: "string", multiple: true },
    seed: { type: "string" },
    "metrics-port": { type: "string" },
    prometheus: { type: "string" },
  });
  const [word, file, ...extra] = positionals;
  const action = ACTIONS.find((a) => a === word);
  if (!action) {
    throw new UsageError(`expected an action, one of ${ACTIONS.join(", ")}; got ${word ?? "none"}`);
  }
  if (!file || extra.length > 0) throw new UsageError(`expected exactly one runbook file`);
  const runOnly = [
    "step",
    "dry-run",
    "restart",
    "fault",
    "seed",
    "metrics-port",
    "prometheus",
  ] as const;
  const misplaced = runOnly.filter((k) => values[k] !== undefined && action !== "run");
  if (misplaced.length > 0) throw new UsageError(`--${misplaced.join(", --")} only go with run`);
  if (action === "approve" && !values.by) throw new UsageError("approve needs --by NAME");
  const faults: Fault[] = (values.fault ?? []).map((spec) => {
    const fault = parseFault(spec);
    if (!fault) throw new UsageError(`--fault ${spec} is not ${FAULT_HELP}`);
    return fault;
  });
  if (faults.length > 0 && !values.rehearse) throw new UsageError("--fault needs --rehearse");
  const prometheus = values.prometheus;
  if (prometheus !== undefined && !/^https?:\/\/[^/\s]+/.test(prometheus)) {
    throw new UsageError(`--prometheus ${prometheus} is not an http(s) URL`);
  }
  if (prometheus !== undefined && values.rehearse) {
    throw new UsageError("--prometheus is for real runs; a rehearsal's metrics are its world's");
  }
  const seed = Number(values.seed ?? 1);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed ${values.seed} is not an integer`);
  const metricsPort =
    values["metrics-port"] === undefined ? undefined : Number(values["metrics-port"]);
  if (
    metricsPort !== undefined &&
    !(Number.isInteger(metricsPort) && metricsPort >= 0 && metricsPort < 65536)
  ) {
    throw new UsageError(`--metrics-port ${values["metrics-port"]} is not a port`);
  }

  const loaded = loadRunbook(file, values["stacks-dir"] ?? DEFAULT_STACKS_DIR);
  const units = planUnits(loaded);
  const json = Boolean(values.json);
  const out = (text: string) => process.stdout.write(text);
  const progressLine = (line: string) =>
    (json ? process.stderr : process.stdout).write(`${line}\n`);

  if (action === "plan") {
    out(
      json
        ? `${JSON.stringify({ runbook: loaded.file, hash: loaded.hash, steps: units }, null, 2)}\n`
        : renderPlan(loaded, units),
    );
    return EXIT.ok;
  }

  const root = values["state-dir"] ?? process.env.AVFLEET_STATE_DIR ?? join(".avfleet", "migrate");
  const region = loaded.runbook.region;
  const dir = join(root, region, ...(values.rehearse ? ["rehearsal"] : []));
  const moves = action === "run" && !values.rehearse && !values["dry-run"];
  const busy = moves ? regionsInProgress(root, region) : [];
  if (busy.length > 0) {
    const { region: other, state } = busy[0];
    throw new InputError([
      `${file}: region: is ${region} while ${other}'s migration is in progress (${state}), expected one region at a time: finish ${other}, or remove ${join(root, other)} to give it up`,
    ]);
  }
  if (values.rehearse && values.restart) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  const killAfter = process.env[KILL_ENV];
  const afterWrite = killAfter
    ? (what: string) => {
        if (what === killAfter) process.kill(process.pid, "SIGKILL");
      }
    : undefined;

  const world = values.rehearse
    ? openRehearsal(dir, { action, file, loaded, faults, seed, afterWrite })
    : undefined;
  const metrics = prometheus ? prometheusProvider({ url: prometheus, region }) : noMetrics;
  const drivers: Drivers = world ?? {
    pulumi: cliPulumi(projectRoot(loaded.stacksDir)),
    metrics,
    clock: realClock,
  };

  const ctx: ExecutorContext = {
    loaded,
    units,
    paths: statePaths(dir),
    drivers,
    mode: values.rehearse ? "rehearse" : "migrate",
    afterWrite,
    // Progress for the actions that run pulumi; approve and abort say it in one line.
    onEntry: (entry) => {
      const line = action === "run" || action === "rollback" ? entryLine(entry, units) : undefined;
      if (line) progressLine(line);
    },
  };
  const by = values.by ?? process.env.USER ?? "unknown";
  const finish = (outcome: Outcome) => {
    if (json) out(`${JSON.stringify({ outcome }, null, 2)}\n`);
    else if (action !== "run") out(`${outcome.kind}: ${outcome.reason}\n`);
    return exitCodeOf(outcome.kind);
  };

  switch (action) {
    case "status": {
      const state = foldJournal(readJournal(ctx.paths.journal));
      const holder = readLock(ctx.paths.lock);
      const live: Parameters<typeof statusOf>[3] =
        holder && processAlive(holder.pid) ? { runningPid: holder.pid } : {};
      if (world) live.weights = currentWeights(world.state);
      else {
        const result = await drivers.pulumi(pulumiArgs.outputs(loaded.runbook.traffic));
        try {
          if (result.exitCode !== 0) throw new Error(result.stderr.trim().split("\n").at(-1));
          live.weights = JSON.parse(result.stdout).weights;
        } catch (err) {
          live.weightsError = (err as Error).message;
        }
      }
      const status = statusOf(loaded, units, state, live);
      out(json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
      return EXIT.ok;
    }
    case "approve": {
      const approval = approveMigration(ctx, values.by!);
      out(
        json
          ? `${JSON.stringify({ approval }, null, 2)}\n`
          : `approved step ${approval.unit} by ${approval.by} at ${new Date(approval.at).toISOString()}, valid until ${new Date(approval.expiresAt).toISOString()}; run again to go on\n`,
      );
      return EXIT.ok;
    }
    case "abort":
      return finish(abortMigration(ctx, by, values.reason ?? "operator abort"));
    case "rollback":
      return finish(await rollbackMigration(ctx, by));
    case "run": {
      if (values["dry-run"]) {
        const result = await dryRun(loaded, units, drivers.pulumi, progressLine);
        if (json) out(`${JSON.stringify(result, null, 2)}\n`);
        return result.ok ? EXIT.ok : EXIT.failure;
      }
      const served =
        world && metricsPort !== undefined
          ? await serveExposition(() => world!.state, metricsPort)
          : undefined;
      if (served) progressLine(`metrics: http://127.0.0.1:${served.port}/metrics`);
      try {
        const outcome = await runMigration(ctx, { restart: values.restart, step: values.step });
        if (!json) {
          out(`\n${outcome.kind}: ${outcome.reason}\n`);
          if (outcome.kind === "waiting-approval" || outcome.kind === "held") {
            out(
              `next: avfleet migrate approve ${file}${values.rehearse ? " --rehearse" : ""} --by <name>\n`,
            );
          }
        }
        const code = finish(outcome);
        if (served) {
          // A rehearsal is over in seconds; the world stays up for a scraper to read it.
          progressLine(`serving the world's metrics until interrupted (Ctrl-C)`);
          await new Promise((resolve) => {
            process.once("SIGINT", resolve);
            process.once("SIGTERM", resolve);
          });
        }
        return code;
      } finally {
        served?.server.close();
      }
    }
  }
}
