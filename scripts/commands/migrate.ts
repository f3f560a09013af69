/** avfleet migrate — run a region's migration runbook step by step, or rehearse it. */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { localBackend, StaleWriteError } from "../../modules/migration-state/backend";
import { DEFAULT_STACKS_DIR } from "../../modules/stacks/stack";
import { InputError } from "../../modules/inputs/problems";
import { realClock } from "../../modules/migrate/clock";
import { dryRun } from "../../modules/migrate/dry-run";
import {
  abandonMigration,
  abortMigration,
  approveMigration,
  exitCodeOf,
  migrationFinished,
  rollbackMigration,
  runMigration,
  type Drivers,
  migrationContext,
  type ExecutorContext,
  type Outcome,
} from "../../modules/migrate/executor";
import { serveExposition } from "../../modules/rehearsal/exposition";
import { operatorIdentity } from "../../modules/migration-state/identity";
import { describeHolder, LockedError } from "../../modules/migration-state/lock";
import { StateLinkError } from "../../modules/migration-state/nofollow";
import { noMetrics } from "../../modules/gates/metrics";
import { prometheusProvider } from "../../modules/gates/prometheus";
import { planUnits } from "../../modules/runbook/plan";
import { scaleShortfalls, shortfallLine } from "../../modules/runbook/hosts-needed";
import { gitPublisher } from "../../modules/migrate/publish";
import { isPostgresUrl, postgresBackend } from "../../modules/migration-state/postgres";
import { pulumiArgs } from "../../modules/runbook/pulumi-args";
import { cliPulumi, projectRoot } from "../../modules/migrate/pulumi";
import { entryLine, renderPlan, renderStatus, statusOf } from "../../modules/migrate/render";
import { loadRunbook, settingsInForce, type LoadedRunbook } from "../../modules/runbook/runbook";
import { foldJournal } from "../../modules/migration-state/state";
import {
  createWorld,
  currentWeights,
  loadWorld,
  saveWorld,
  worldDrivers,
  type World,
} from "../../modules/rehearsal/world";
import { FAULT_HELP, FAULT_UNITS, parseFault, type Fault } from "../../modules/rehearsal/faults";
import { executorStackName } from "../../modules/adopt/backend";
import { EXIT, UsageError, parseCommandArgs, type Command } from "../cli";
import { PROJECT, PROJECT_FILE } from "./adopt";

const ACTIONS = ["plan", "run", "status", "approve", "abort", "rollback", "abandon"] as const;
type Action = (typeof ACTIONS)[number];

/**
 * Test hook: SIGKILL this process right after its first durable write of a kind — a journal
 * entry type (`step-end`, `weights-intent`, …) or `world` (a rehearsal world save).
 */
const KILL_ENV = "AVFLEET_TEST_SIGKILL_AFTER";

/** Test hook: each simulated sleep of a rehearsal also takes this many real ms (a bake to catch). */
const SLOW_ENV = "AVFLEET_TEST_REHEARSAL_SLEEP_MS";

export const command: Command = {
  summary:
    "run a region's migration runbook step by step (plan, run, status, approve, abort, rollback, abandon)",
  help: `
Usage: avfleet migrate <plan|run|status|approve|abort|rollback|abandon> <runbook> [options]

  plan      every step and the exact pulumi commands it runs; exit 1 when a scale step's
            minHosts is below the hosts the target needs for its demand (avfleet preview)
  run       run from where the journal stands until an approval, a halt or the end
  status    where it stands: current weights, last gates, pending approvals
  approve   approve the pending approval (an approve step, or a hold) --by NAME
  abort     stop now, even while waiting for an approval; run again to go on
  rollback  fast path back to the last good weights, skipping gates
  abandon   give up a migration that changed nothing (its first call failed, say), so its
            region stops blocking the others; recorded with who and --reason

The runbook (runbooks/<media-region>.yaml) is validated against the stacks first; a bad one
stops everything (exit 2). A journal per runbook records every step, command, gate and
approval, so run resumes after the last completed step; a changed runbook needs --restart.
Regions go one at a time: a real run refuses while another region's migration is unfinished.
One executor per runbook holds its lease; a second exits 3 naming the holder. Every journal
write needs the lease (a fencing token) and the journal as the writer last saw it.

Options:
  --stacks-dir DIR   stack files (default: stacks)
  --state DIR|URL    where journals, leases and abort requests live (default: $AVFLEET_STATE,
                     else the state dir): a directory (one checkout; a lease is a lock file
                     naming a live pid), or postgres://user@host:port/db[?lease=30s] shared by
                     the team: a lease expires that long after its holder stops renewing it;
                     an unreachable server is waited for, up to 10 min, writing nothing
  --state-dir DIR    this checkout's state: rehearsal worlds, and journals unless --state
                     (default: $AVFLEET_STATE_DIR or .avfleet/migrate), a folder per region
  --json             machine-readable output on stdout (progress goes to stderr)
  --by NAME          who acts (approve, abort, rollback, abandon, run): a login or email,
                     letters, digits and . _ @ + - (at most 64); default $AVFLEET_BY, else
                     the OS user. Newlines and control characters are refused. A claim only:
                     the journal records beside it who the state backend authenticated (the
                     OS user locally, PostgreSQL's session_user when shared), and a runbook's
                     approvers (group, distinctFromStarter) are checked against that.
  --reason TEXT      abort, abandon: why
run only:
  --step             run one step, then stop
  --dry-run          pulumi previews against copies of the config instead of updates
  --restart          start over after a changed runbook or a rollback (weights in place are
                     not applied again; a rehearsal starts a new world)
  --rehearse         against the built-in simulated world (also for status, approve, abort,
                     rollback): instant stacks, diurnal sessions, accelerated time
  --fault SPEC       rehearsal fault, repeatable: ${FAULT_HELP}
${FAULT_UNITS}
  --seed N           rehearsal noise seed (default 1)
  --metrics-port N   serve the world's metrics (Prometheus text format) on 127.0.0.1:N/metrics
                     during the rehearsal and after it, until interrupted
  --publish BRANCH   (run, rollback; real runs) commit every stack file a step changes to
                     BRANCH (never your checked-out branch), push it to origin and open one
                     pull request with gh, updated by each push: deploys from git then carry
                     the migration's weights (the pack refuses older ones)
  --org ORG          your Pulumi Cloud organization: on Cloud every call names its stack
                     ORG/avfleet/<stack> (a bare name resolves in each operator's default
                     organization); required there for real runs, unused on a DIY backend
  --prometheus URL   gates query Prometheus' HTTP API at URL (real runs; PromQL per pool and
                     region, timeouts, retries, a hold after 5 failed queries in a row)

Pulumi is the CLI from $PULUMI or PATH. Metrics for gates come from --prometheus or the
rehearsal world; a real run without --prometheus holds at the first bake (inconclusive).

Examples:
  avfleet migrate plan runbooks/us-west.yaml
  avfleet migrate run runbooks/us-west.yaml --rehearse --fault target-loss=3@25
  avfleet migrate approve runbooks/us-west.yaml --by alice`,
  async run(argv) {
    return await withStateErrors(() => migrate(argv));
  },
};

/**
 * Runs a command on the state backend (migrate, rollout). Another executor holding the lease,
 * or a lease lost to one, is not a crash: it says who, no stack trace, and exits 3; a state
 * file reached through a symlink is bad input (exit 2).
 */
export async function withStateErrors(command: () => Promise<number>): Promise<number> {
  try {
    return await command();
  } catch (err) {
    if (err instanceof StateLinkError) {
      process.stderr.write(`${err.message}\n`);
      return EXIT.badInput;
    }
    if (!(err instanceof LockedError || err instanceof StaleWriteError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    return EXIT.failure;
  }
}

/**
 * The rehearsal world in `dir`: resumed when it exists (with the same faults, for run),
 * created by run when it does not or with --restart. A new world is saved by `leased`, once
 * the runbook's lease is held: a second rehearsal started alongside changes nothing.
 */
function openRehearsal(
  dir: string,
  o: {
    action: Action;
    file: string;
    loaded: LoadedRunbook;
    faults: Fault[];
    seed: number;
    restart?: boolean;
    afterWrite?: (what: string) => void;
  },
): { world: World; leased?: () => void } {
  const worldFile = join(dir, "world.json");
  if (!existsSync(worldFile) || (o.action === "run" && o.restart)) {
    if (o.action !== "run") {
      throw new UsageError(
        `no rehearsal in ${dir}; start one with: avfleet migrate run ${o.file} --rehearse`,
      );
    }
    const state = createWorld(o.loaded, o.seed, o.faults);
    return {
      world: worldDrivers(worldFile, state, o.afterWrite),
      leased: () => {
        mkdirSync(dir, { recursive: true });
        saveWorld(worldFile, state);
      },
    };
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
  return { world: worldDrivers(worldFile, state, o.afterWrite) };
}

async function migrate(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    json: { type: "boolean" },
    "stacks-dir": { type: "string" },
    "state-dir": { type: "string" },
    state: { type: "string" },
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
    publish: { type: "string" },
    org: { type: "string" },
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
  const publish = values.publish;
  if (publish !== undefined) {
    if (action !== "run" && action !== "rollback")
      throw new UsageError("--publish only goes with run and rollback: they change stack files");
    if (values.rehearse || values["dry-run"])
      throw new UsageError(
        "--publish is for real runs: a rehearsal or dry run changes no stack file",
      );
    if (!/^[A-Za-z0-9_][A-Za-z0-9._/-]*$/.test(publish) || /\.\.|\/\/|\.lock$|\/$/.test(publish))
      throw new UsageError(
        `--publish ${publish} is not a branch name like avfleet/migrate-us-west`,
      );
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
    const shortfalls = scaleShortfalls(loaded.runbook, loaded.stacksDir);
    out(
      json
        ? `${JSON.stringify({ runbook: loaded.file, hash: loaded.hash, steps: units, inForce: loaded.runbook.steps.flatMap((_, i) => settingsInForce(loaded, i)), shortfalls }, null, 2)}\n`
        : renderPlan(loaded, units) +
            shortfalls.map((s) => `REFUSED: ${shortfallLine(loaded.file, s)}\n`).join(""),
    );
    return shortfalls.length ? EXIT.findings : EXIT.ok;
  }

  // Checked before any state is touched: on Pulumi Cloud without --org nothing runs.
  const stackName = values.rehearse
    ? undefined
    : executorStackName(
        values.org,
        process.env,
        join(projectRoot(loaded.stacksDir), PROJECT_FILE),
        PROJECT,
      );
  const by = operatorIdentity(values.by);
  // This checkout's state: rehearsal worlds always, journals and leases unless --state is shared.
  const localRoot =
    values["state-dir"] ?? process.env.AVFLEET_STATE_DIR ?? join(".avfleet", "migrate");
  const stateSpec = values.state ?? process.env.AVFLEET_STATE ?? localRoot;
  const shared = isPostgresUrl(stateSpec);
  const region = loaded.runbook.region;
  const key = values.rehearse ? `${region}/rehearsal` : region;
  const dir = join(localRoot, key);
  const killAfter = process.env[KILL_ENV];
  const afterWrite = killAfter
    ? (what: string) => {
        if (what === killAfter) process.kill(process.pid, "SIGKILL");
      }
    : undefined;
  const backend = shared
    ? postgresBackend(stateSpec, {
        afterWrite,
        onWait: (line) => process.stderr.write(`${line}\n`),
      })
    : localBackend(stateSpec, { afterWrite });
  const act = async (): Promise<number> => {
    const rehearsal = values.rehearse
      ? openRehearsal(dir, {
          action,
          file,
          loaded,
          faults,
          seed,
          restart: values.restart,
          afterWrite,
        })
      : undefined;
    const world = rehearsal?.world;
    const slowMs = Number(process.env[SLOW_ENV] ?? 0);
    if (world && slowMs > 0) {
      const sleep = world.clock.sleep;
      world.clock.sleep = async (ms) => {
        await new Promise((resolve) => setTimeout(resolve, slowMs));
        await sleep(ms);
      };
    }
    const metrics = prometheus ? prometheusProvider({ url: prometheus, region }) : noMetrics;
    const root = projectRoot(loaded.stacksDir);
    const drivers: Drivers = world ?? {
      pulumi: cliPulumi(root, process.env, stateSpec, stackName),
      metrics,
      clock: realClock,
      ...(publish ? { publish: gitPublisher(root, publish) } : {}),
    };

    const ctx: ExecutorContext = migrationContext({
      loaded,
      units,
      backend,
      key,
      by,
      drivers,
      mode: values.rehearse ? "rehearse" : "migrate",
      // Progress for the actions that run pulumi; approve and abort say it in one line.
      onEntry: (entry) => {
        const line =
          action === "run" || action === "rollback" ? entryLine(entry, units) : undefined;
        if (line) progressLine(line);
      },
    });
    const finish = (outcome: Outcome) => {
      if (json) out(`${JSON.stringify({ outcome }, null, 2)}\n`);
      else if (action !== "run") out(`${outcome.kind}: ${outcome.reason}\n`);
      return exitCodeOf(outcome.kind);
    };

    switch (action) {
      case "status": {
        const state = foldJournal(await backend.read(key));
        const holder = await backend.holder(key);
        const live: Parameters<typeof statusOf>[3] = holder
          ? { runningPid: holder.pid, runningBy: describeHolder(holder) }
          : {};
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
        const approval = await approveMigration(ctx);
        out(
          json
            ? `${JSON.stringify({ approval }, null, 2)}\n`
            : `approved step ${approval.unit} by ${approval.by}${approval.as && approval.as !== approval.by ? ` (authenticated as ${approval.as})` : ""} at ${new Date(approval.at).toISOString()}, valid until ${new Date(approval.expiresAt).toISOString()}; run again to go on\n`,
        );
        return EXIT.ok;
      }
      case "abort":
        return finish(await abortMigration(ctx, values.reason ?? "operator abort"));
      case "abandon":
        return finish(await abandonMigration(ctx, values.reason ?? "changed nothing"));
      case "rollback":
        return finish(await rollbackMigration(ctx));
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
          const outcome = await runMigration(ctx, {
            restart: values.restart,
            step: values.step,
            leased: rehearsal?.leased,
          });
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
  };
  try {
    const moves = action === "run" && !values.rehearse && !values["dry-run"];
    const busy = moves ? await backend.claimRegion(region, migrationFinished) : undefined;
    if (busy) {
      const stands = foldJournal(await backend.read(busy)).halt?.kind ?? "interrupted";
      throw new InputError([
        `${file}: region: is ${region} while ${busy}'s migration is in progress (${stands}), expected one region at a time: finish ${busy} (state in ${backend.where}), or abandon it if it changed nothing (avfleet migrate abandon)`,
      ]);
    }
    return await act();
  } finally {
    await backend.close();
  }
}
