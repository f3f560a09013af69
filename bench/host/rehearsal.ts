/**
 * The host rehearsal: one GCP, one AWS and one bare-metal host, each in a network namespace
 * of its own (a veth to this machine, where the stand-ins listen) with a throwaway root
 * directory, running the very bytes the fleet renders: the GCP startup-script, the AWS
 * cloud-config (checked by `cloud-init schema`, then its write_files and per-boot script done as
 * cloud-init does: the stub, which fetches the payload object from an S3 stand-in) and the
 * bare-metal SSH payload. The AWS host launches into a warm pool, is
 * stopped and started again before it serves. Needs root, ip, nft, ethtool, python3, cloud-init.
 */
import { execFile, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import YAML from "yaml";
import { loadStackFile } from "../../modules/stacks/stack";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { hostFacts, type HostHardware } from "../../modules/tuning/host-facts";
import {
  bootstrapScript,
  cloudConfig,
  metalPayload,
  PER_BOOT_BOOTSTRAP_PATH,
} from "../../modules/host/bootstrap";
import { autoScalingGroupName } from "../../modules/host/agent";
import { payloadKey, PAYLOAD_PREFIX } from "../../modules/host/boot-stub";
import { sha256 } from "../../modules/tuning/script";
import {
  AWS_DRAIN_HOOK,
  AWS_LAUNCH_HOOK,
  awsMediaMetric,
  GCP_MEDIA_LOAD_METRIC,
  gcpDrainBucket,
  gcpDrainObject,
  GCP_ADMIT_PREFIX,
  GCP_CORDON_PREFIX,
  LIVENESS_PATH,
} from "../../modules/host/metrics";
import { EXPORTER_METRICS } from "../../modules/host-series/exporter";
import { AGENT_STATE_DIR, AGENT_UNIT, TUNE_CHECK_UNIT } from "../../modules/host/units";
import { renderTuning, type TuningArtifacts } from "../../modules/tuning";
import { scaleInConfig } from "../../modules/gcp-scale-in/controller";
import { autohealingHealthCheck } from "../../modules/fleets/gcp-args";
import { autohealingRepairs } from "../../modules/providers/gcp";
import type { GcpFleetSpec } from "../../modules/config/fleet.schema";
import { sessionsOnHost, type SessionsResult } from "./sessions";
import { awsStandIns, gcpStandIns, scaleInPass, StandIns } from "./stand-ins";
import { countersArrive, rehearsalCounters, type CountersResult } from "./cloudwatch";
import { hostPolicy } from "../../modules/fleets/aws-args";
import type { AwsFleetSpec } from "../../modules/config/fleet.schema";
import { s3StandIn } from "./s3-stand-in";
import { Supervisor } from "./supervisor";
import { siteScrape, type SiteScrape } from "./prometheus";

const ROOT_DIR = join(__dirname, "../..");
export const FIXTURES = join(ROOT_DIR, "test/fixtures/host");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface HostResult {
  kind: FleetSpec["kind"];
  tuned: boolean;
  mediaAfterTuning: boolean;
  healthy: boolean;
  unhealthyWhileDraining: boolean;
  metricPosts: number;
  heartbeats: number;
  drained: boolean;
  sessionsAtCompletion: number | undefined;
  callsCut: number;
  agentRestartsSurvived: number;
  /**
   * GCP: the pool's scale-in controller (one pass of the function) picked it, the least-loaded,
   * and marked it to drain.
   */
  markedByController: boolean;
  /**
   * GCP: the controller's next pass after the drain read the host's guest attribute and deleted
   * its VM from the MIG (the host never calls deleteInstances: the stand-in refuses it).
   */
  deletedByController: boolean;
  /** GCP: the autohealer stand-in's view of the drain (undefined on other platforms). */
  autohealer?: AutohealerResult;
  /** GCP: the controller's cordon and its lifting, as the host answered them (undefined elsewhere). */
  cordon?: CordonResult;
  /** GCP, a pool with a standby pool: its first boot held, then admitted (undefined elsewhere). */
  admission?: AdmissionResult;
  /** AWS: the drain hook became active only after deregistration (undefined elsewhere). */
  drainHook?: DrainHookResult;
  drainSeconds: number;
  /** The labels of the host counters the agent serves on /metrics (its UDP datagrams series). */
  hostLabels: Record<string, string> | undefined;
  /** AWS: its boot into the warm pool, its stop and its start out of it. */
  warm?: WarmPoolResult;
  /** Bare metal: its site's Prometheus scraped it and paged through Alertmanager. */
  site?: SiteScrape;
  /**
   * The per-session families on the agent's /metrics once drained, against the SFU's counts
   * (none for the host that leaves at shutdown).
   */
  sessions?: SessionsResult;
  /** AWS: the counters its pool's alarms read, as they arrived at CloudWatch. */
  counters?: CountersResult;
  /** AWS: how its boot stub fetched the payload object (undefined elsewhere). */
  payload?: PayloadResult;
}

/**
 * GCP: a pass of the controller where nothing drains but one host's worth of load leaves this
 * host (the fewer calls at the limit) out of rotation, then a pass where the load needs it again.
 */
export interface CordonResult {
  /** The pass cordoned it, by an object cordon/<VM name>. */
  cordonedByController: boolean;
  /** Its readiness answered 503 "cordoned": the load balancer sends it no new joins. */
  outOfRotation: boolean;
  /** Its liveness still answered 200: the autohealer leaves it. */
  aliveWhileCordoned: boolean;
  /** It still published its load, with the calls it expects at the drain limit. */
  publishedWhileCordoned: boolean;
  /** Its calls in progress when cordoned, and when put back: none cut. */
  sessions: [number, number];
  /** The next pass deleted the object and its readiness answered 200 again. */
  backInRotation: boolean;
}

/**
 * GCP, a pool with a standby pool: the host's first boot, which a refill's would be, answered the
 * load balancer 503 "cordoned" until the controller admitted it, then 200.
 */
export interface AdmissionResult {
  /** Readiness 503 "cordoned" before any pass of the controller. */
  heldBeforeAdmission: boolean;
  /** The pass wrote admit/<VM name>.<instance id> for it (the MIG drives it to RUNNING). */
  admittedByController: boolean;
}

export interface PayloadResult {
  /** GetObject calls the S3 stand-in answered: the first boot's only (later boots keep it). */
  fetches: number;
  /** A boot whose object had been swapped under its key failed, and ran nothing of it. */
  swappedRefused: boolean;
}

/** An AWS host's boot payload, its agent publishing the counters its pool's alarms read. */
const awsPayload = (host: Host) =>
  bootstrapScript(host.spec, host.tuning, rehearsalCounters(host.spec));

/** The pool's bucket as the rehearsal's user-data names it (the stub is pointed at the stand-in). */
const REHEARSAL_BUCKET = "aws-use1-boot-20261204000000000000000001";

export interface AutohealerResult {
  /** Probes of the path the rendered autohealing check names, during the drain. */
  probes: number;
  /** The longest run of liveness probes the agent did not answer 200 (a kill -9's restart). */
  longestFailedRun: number;
  /** The same on the readiness path: the whole drain. */
  longestReadinessFailedRun: number;
  /**
   * Recreations, as the provider model's autohealing rule decides them (modules/providers/gcp)
   * for a VM past its initial delay: runs of failures reaching the rendered unhealthyThreshold.
   */
  repairs: number;
  /** The readiness path (the load balancer's) answered 503 during the same drain. */
  readinessFailed: boolean;
}

export interface DrainHookResult {
  /** Drain-hook calls answered "No active Lifecycle Action" before the hook was active. */
  noActive: number;
  /** The agent's drain state read completed when the hook became active (must be false). */
  completedBeforeActive: boolean;
  /** The accepted completion came after the hook became active. */
  completedAfterActive: boolean;
}

export interface WarmPoolResult {
  /** Load reports while the target lifecycle state read Warmed:Stopped (must be none). */
  warmPosts: number;
  /** Launching hook actions completed (CONTINUE): one per boot. */
  launchCompletions: number;
  launchHeartbeats: number;
  /** Completions answered "No active Lifecycle Action" (a restarted agent asking again). */
  launchNoActive: number;
  /** Tuned values reset by the stop, read back tuned after the start. */
  retuned: boolean;
  /** The stop killed a bootstrap still running; the next boot's converged all the same. */
  bootstrapInterrupted: boolean;
  /** The stop left the agent's shutdown drain on disk; the start served all the same. */
  stoppedDraining: boolean;
  /** The launch was completed on the second boot before its bootstrap had run (must be false). */
  completedBeforeBootstrap: boolean;
  /** Hooks still waiting when the host was taken away (must be none). */
  waitingAtEnd: string[];
}

export interface RehearsalResult {
  hosts: HostResult[];
  /** A GCP host deleted by its MIG: it drains at system shutdown, before the media server stops. */
  shutdown: HostResult;
  problems: string[];
}

/**
 * This machine scrapes and probes each namespace from its side of the link (10.x): a bare-metal
 * host's monitoring network here, which its firewall must let through.
 */
export function probedHere(s: any): void {
  s.monitoringCidrs = ["10.0.0.0/8"];
}

export function spec(stack: string, overrides: (s: any) => void): FleetSpec {
  const loaded = loadStackFile(join(ROOT_DIR, `stacks/Pulumi.${stack}.yaml`)) as any;
  const s = structuredClone(loaded.document.config["avfleet:fleet"]);
  overrides(s);
  return s;
}

/**
 * Waits are bounds on how long to keep looking, not assertions on speed: a loaded CI machine
 * runs the supervised units several times slower than a quiet one.
 */
const WAIT_SLACK = 3;

export async function until<T>(
  what: string,
  ms: number,
  probe: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const end = Date.now() + ms * WAIT_SLACK;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

export async function get(url: string): Promise<{ status: number; text: string } | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1500) });
    return { status: r.status, text: await r.text() };
  } catch {
    return undefined;
  }
}

export interface Host {
  kind: FleetSpec["kind"];
  spec: FleetSpec;
  tuning: TuningArtifacts;
  ns: string;
  root: string;
  hostIp: string;
  nsIp: string;
}

export function sh(ns: string, command: string, env: NodeJS.ProcessEnv) {
  return spawnSync("ip", ["netns", "exec", ns, "sh", "-c", command], { encoding: "utf8", env });
}

export function setUpNetns(ns: string, veth: string, hostIp: string, nsIp: string): void {
  const run = (...args: string[]) => {
    const r = spawnSync("ip", args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
  };
  run("netns", "add", ns);
  run("link", "add", veth, "type", "veth", "peer", "name", `${veth}p`);
  run("link", "set", `${veth}p`, "netns", ns);
  run("addr", "add", `${hostIp}/30`, "dev", veth);
  run("link", "set", veth, "up");
  run("-n", ns, "link", "set", "lo", "up");
  run("-n", ns, "link", "set", `${veth}p`, "name", "eth0");
  run("-n", ns, "addr", "add", `${nsIp}/30`, "dev", "eth0");
  run("-n", ns, "link", "set", "eth0", "up");
  run("-n", ns, "route", "add", "default", "via", hostIp);
}

/**
 * Runs the host's boot payload the way its boot system would. Asynchronous: an AWS host's stub
 * fetches its payload from stand-ins this process serves.
 */
export async function boot(host: Host, env: NodeJS.ProcessEnv): Promise<void> {
  let r;
  if (host.kind === "gcp") {
    // The guest agent writes startup-script to a file and runs it.
    const file = join(host.root, "run/startup-script");
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, bootstrapScript(host.spec, host.tuning), { mode: 0o755 });
    r = sh(host.ns, file, env);
  } else if (host.kind === "aws") {
    const text = cloudConfig(host.spec, host.tuning, REHEARSAL_BUCKET, awsPayload(host));
    const file = join(host.root, "run/user-data");
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    const schema = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
    if (schema.status !== 0) throw new Error(`cloud-init schema: ${schema.stdout}${schema.stderr}`);
    const doc = YAML.parse(text);
    for (const f of doc.write_files) {
      const path = join(host.root, f.path);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, f.content, { mode: parseInt(f.permissions, 8) });
    }
    // cloud-init's scripts-per-boot runs the directory at every boot: the only thing to run.
    if (
      doc.runcmd ||
      doc.write_files.length !== 1 ||
      doc.write_files[0].path !== PER_BOOT_BOOTSTRAP_PATH
    )
      throw new Error(`the cloud-config does not leave exactly the per-boot bootstrap to run`);
    r = await perBoot(host, env);
  } else {
    r = sh(host.ns, metalPayload(host.spec, host.tuning, "active").create, env);
  }
  if (r.status !== 0) throw new Error(`${host.kind} bootstrap: ${r.stdout}${r.stderr}`);
}

/** What cloud-init's scripts-per-boot does at every boot of an AWS host: it runs the stub. */
function perBoot(host: Host, env: NodeJS.ProcessEnv) {
  return new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
    execFile(
      "ip",
      ["netns", "exec", host.ns, "sh", "-c", join(host.root, PER_BOOT_BOOTSTRAP_PATH)],
      { encoding: "utf8", env, maxBuffer: 64 << 20 },
      (error, stdout, stderr) =>
        resolve({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

/** The netns's values of the tuning's sysctls, as they are before the tuning (its defaults). */
function sysctlValues(host: Host, env: NodeJS.ProcessEnv): Map<string, string> {
  const values = new Map<string, string>();
  for (const s of host.tuning.settings.filter((x) => x.area === "sysctl")) {
    const r = sh(host.ns, `cat /proc/sys/${s.name.replaceAll(".", "/")}`, env);
    if (r.status === 0) values.set(s.name, r.stdout.trim());
  }
  return values;
}

/**
 * An AWS host launched into the warm pool: it boots with IMDS reading Warmed:Stopped, must
 * publish nothing and complete the launching hook once it serves; then EC2 stops it (the units
 * stopped as at a shutdown, a bootstrap still running killed where it stands, the kernel's values
 * and nft back to defaults, /run emptied) and starts
 * it again with IMDS reading InService: systemd starts the enabled units, cloud-init runs the
 * per-boot bootstrap. Returns the supervisor of the second boot.
 */
async function warmPoolCycle(
  host: Host,
  env: NodeJS.ProcessEnv,
  standIns: StandIns,
  aws: AwsControl,
  supervisor: Supervisor,
  starts: string[],
  defaults: Map<string, string>,
  health: string,
  stats: () => Promise<SfuCounts | undefined>,
): Promise<{
  supervisor: Supervisor;
  warm: Omit<WarmPoolResult, "waitingAtEnd">;
  sfuBefore: SfuCounts | undefined;
}> {
  const completions = () => hookCalls(standIns, "CompleteLifecycleAction", AWS_LAUNCH_HOOK);
  await until("healthy in the warm pool", 20_000, async () => (await get(health))?.status === 200);
  await until("the launch completed (warm pool)", 20_000, () => completions() === 1);
  // A few load report intervals: none may reach CloudWatch while warmed.
  await sleep(3000 * host.spec.agent.intervalSec);
  const warmPosts = standIns.count("monitoring", "PutMetricData");

  // The stop catches a bootstrap under way (a host launched before its group had the hook is
  // stopped while its user data still runs): it dies where it stands, like every unit.
  const aptCalls = join(host.root, "var/log/apt-get.calls");
  const installs = () =>
    readFileSync(aptCalls, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("install")).length;
  const installsBefore = installs();
  const bootstrap = spawn(
    "ip",
    ["netns", "exec", host.ns, "sh", join(host.root, PER_BOOT_BOOTSTRAP_PATH)],
    { env: { ...env, AVFLEET_REHEARSAL_HANG: "install" }, detached: true, stdio: "ignore" },
  );
  await until(
    "the bootstrap in the middle of its install",
    10_000,
    () => installs() > installsBefore,
  );
  const bootstrapInterrupted = bootstrap.exitCode === null;
  process.kill(-bootstrap.pid!, "SIGKILL");
  // EC2 stops the host the way a shutdown does: systemd stops the units, the agent first (it
  // drains for the shutdown, in vain: the host will serve again).
  writeFileSync(join(host.root, "run/system-state"), "stopping\n");
  // The SFU's counts of this boot, read once the agent (stopped first) counts no more: the next
  // boot's SFU counts from zero, while the agent's counters go on from its state.
  await supervisor.stop(AGENT_UNIT);
  const sfuBefore = await stats();
  await supervisor.stopAll();
  const drainFile = join(host.root, AGENT_STATE_DIR, "drain.json");
  const stoppedDraining =
    existsSync(drainFile) && JSON.parse(readFileSync(drainFile, "utf8")).reason === "shutdown";
  for (const [key, value] of defaults) sh(host.ns, `sysctl -qw ${key}='${value}'`, env);
  sh(host.ns, "nft flush ruleset", env);
  rmSync(join(host.root, "run"), { recursive: true, force: true });
  const wanted = host.tuning.settings.find((s) => s.name === "net.ipv4.udp_rmem_min")!.value;
  const reset = sh(host.ns, "cat /proc/sys/net/ipv4/udp_rmem_min", env).stdout.trim() !== wanted;

  aws.launch("InService");
  const next = new Supervisor(host.root, host.ns);
  await next.start(starts);
  // cloud-init's final stage comes late in the boot: the agent is up before the bootstrap ran,
  // and heartbeats the launch until then.
  await until(
    "a launch heartbeat",
    10_000,
    () => hookCalls(standIns, "RecordLifecycleActionHeartbeat", AWS_LAUNCH_HOOK) > 0,
  );
  const early = completions();
  const r = await perBoot(host, env);
  if (r.status !== 0) throw new Error(`per-boot bootstrap: ${r.stdout}${r.stderr}`);
  await until("the launch completed (in service)", 30_000, () => completions() === 2);
  // A restarted agent completes again: "No active Lifecycle Action" is its answer, not an error.
  process.kill(next.pid(AGENT_UNIT)!, "SIGKILL");
  await until(
    "the restarted agent's completion",
    15_000,
    () => hookCalls(standIns, "CompleteLifecycleAction:refused", AWS_LAUNCH_HOOK) > 0,
  );
  const retuned =
    reset && sh(host.ns, "cat /proc/sys/net/ipv4/udp_rmem_min", env).stdout.trim() === wanted;
  return {
    supervisor: next,
    sfuBefore,
    warm: {
      warmPosts,
      launchCompletions: completions(),
      launchHeartbeats: hookCalls(standIns, "RecordLifecycleActionHeartbeat", AWS_LAUNCH_HOOK),
      launchNoActive: hookCalls(standIns, "CompleteLifecycleAction:refused", AWS_LAUNCH_HOOK),
      retuned,
      bootstrapInterrupted,
      stoppedDraining,
      completedBeforeBootstrap: early > 1,
    },
  };
}

type AwsControl = Awaited<ReturnType<typeof awsStandIns>>;

/** What the stand-in SFU's /stats counts since it started. */
interface SfuCounts {
  sessions: number;
  started: number;
  joinsFailed: number;
  ended: number;
  udpRmemMinAtStart: number;
}

/** Auto Scaling calls of one action on one hook that the stand-in answered. */
/** The GCP agent's writes of its avfleet/drain guest attribute that say `word` ("draining", "done"). */
function drainAttributeWrites(standIns: StandIns, word: string): number {
  return standIns.calls.filter((c) => {
    if (c.action !== "guest-attributes.put") return false;
    const { key, value } = c.body as { key: string; value: string };
    return key === "avfleet/drain" && value.startsWith(`${word} `);
  }).length;
}

function hookCalls(standIns: StandIns, action: string, hook: string): number {
  return standIns.calls.filter(
    (c) =>
      c.service === "autoscaling" &&
      c.action === action &&
      (c.body as Record<string, string>).LifecycleHookName === hook,
  ).length;
}

/** The services the bootstrap started (timers left out: the supervisor runs none). */
export function systemctlStarts(root: string): string[] {
  const calls = readFileSync(join(root, "run/systemctl.calls"), "utf8").trim().split("\n");
  return calls
    .map((c) => c.split(" "))
    .filter(([verb]) => verb === "start" || verb === "restart")
    .flatMap(([, ...units]) => units)
    .filter((unit) => !unit.endsWith(".timer"));
}

/**
 * The media server started once the tuning unit had exited cleanly, and read the tuned
 * udp_rmem_min (`wanted`) at its start (its stats say what it read).
 */
export async function startedAfterTuning(
  supervisor: Supervisor,
  mediaUnit: string,
  stats: () => Promise<{ udpRmemMinAtStart: number } | undefined>,
  wanted: string,
): Promise<boolean> {
  const first = await until("media stats", 20_000, stats);
  const tuneDone = supervisor.events.find(
    (e) => e.unit === "avfleet-tune.service" && e.event === "exited",
  )!;
  const mediaStart = supervisor.events.find((e) => e.unit === mediaUnit && e.event === "started")!;
  return (
    tuneDone.code === 0 &&
    mediaStart.at >= tuneDone.at &&
    String(first.udpRmemMinAtStart) === wanted
  );
}

/**
 * How long after a scale-in the AWS drain hook's action becomes active (the instance has left its
 * load balancer): longer than the rehearsal's calls take to end (the SFU stand-in's at most 9 s).
 */
const DEREGISTRATION_MS = 20_000;

/**
 * The rehearsal runs the autohealer this many times faster than the rendered check: its agent
 * ticks every second where a fleet's ticks every 10 s or more, and a drain here lasts seconds.
 */
const AUTOHEALER_SPEEDUP = 10;

/**
 * The MIG's autohealer during a GCP host's drain: probes the path, port, interval (sped up) and
 * threshold that the rendered autohealing check names; a run of failures reaching the
 * threshold would recreate the VM. Beside it, the load balancer's readiness path.
 */
function autohealerStandIn(host: Host) {
  const check = autohealingHealthCheck(host.spec as GcpFleetSpec);
  const { port, requestPath } = check.httpHealthCheck;
  const readiness = `http://${host.nsIp}:${host.spec.ports.health.port}${host.spec.ports.health.path}`;
  const result: AutohealerResult = {
    probes: 0,
    longestFailedRun: 0,
    longestReadinessFailedRun: 0,
    repairs: 0,
    readinessFailed: false,
  };
  const settings = {
    initialDelaySec: 0,
    checkIntervalSec: check.checkIntervalSec,
    unhealthyThreshold: check.unhealthyThreshold,
    actionOnFailure: "REPAIR" as const,
  };
  let failures = 0;
  let readinessFailures = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const answer = await get(`http://${host.nsIp}:${port}${requestPath}`);
      result.probes++;
      failures = answer?.status === 200 ? 0 : failures + 1;
      result.longestFailedRun = Math.max(result.longestFailedRun, failures);
      // A VM serving for long is past its initial delay: only the probes decide.
      if (autohealingRepairs(settings, failures, Infinity)) {
        result.repairs++;
        failures = 0;
      }
      const ready = (await get(readiness))?.status === 200;
      readinessFailures = ready ? 0 : readinessFailures + 1;
      result.longestReadinessFailedRun = Math.max(
        result.longestReadinessFailedRun,
        readinessFailures,
      );
      if (!ready) result.readinessFailed = true;
      await sleep((check.checkIntervalSec * 1000) / AUTOHEALER_SPEEDUP);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return result;
    },
  };
}

async function rehearseHost(
  host: Host,
  standIns: StandIns,
  notice: "platform" | "shutdown" = "platform",
): Promise<HostResult> {
  const env = {
    ...process.env,
    AVFLEET_ROOT: host.root,
    PATH: `${FIXTURES}/bin:${process.env.PATH}`,
  };
  let control: { endpoints: Record<string, string>; notice: () => unknown };
  let aws: AwsControl | undefined;
  let completedBeforeActive = false;
  let markedByController = false;
  /** GCP: one more pass of the controller once the drain is done; true when it deleted the VM. */
  let deletePass: (() => Promise<boolean>) | undefined;
  /** GCP: the cordon's round trip, given the host's readiness and liveness URLs. */
  let cordonRoundTrip:
    | ((
        readiness: string,
        liveness: string,
        sessions: () => Promise<number>,
      ) => Promise<CordonResult>)
    | undefined;
  /** AWS: puts the payload's own bytes back under its key. */
  let restorePayload: (() => unknown) | undefined;
  /** GCP with a standby pool: whether the first boot is held, then a pass that admits it. */
  let admit: ((readiness: string) => Promise<AdmissionResult>) | undefined;
  if (host.kind === "gcp") {
    const vm = {
      project: "media-prod-usw1",
      projectNumber: "123456789012",
      region: "us-west1",
      zone: "us-west1-b",
      name: "gcp-usw1-x7k2",
      id: "4929812345678901234",
      group: "gcp-usw1-mig",
      metricType: GCP_MEDIA_LOAD_METRIC,
      address: host.nsIp,
    };
    const gcpSpec = host.spec as GcpFleetSpec;
    // Three VMs where the autoscaler recommends one: the controller must pick the quieter; the
    // two peers expect more calls at the drain limit than the budget allows, so they wait.
    // All loads together fit one host at 80 % of the autoscaler's target, or the cordon keeps
    // three in rotation.
    const pool = {
      autoscaler: "gcp-usw1-autoscaler",
      recommendedSize: 1 as number | undefined,
      peers: [
        { name: "gcp-usw1-p9q8", zone: "us-west1-a", id: "4929812345678909999", load: 1000 },
        {
          name: "gcp-usw1-r7s6",
          zone: "us-west1-c",
          id: "4929812345678908888",
          guest: { "avfleet/load": `${Math.floor(Date.now() / 1000)} 400 300.00` },
        },
      ],
    };
    const g = await gcpStandIns(standIns, vm, pool);
    const config = scaleInConfig(gcpSpec, vm.project, vm.region, {
      instanceGroupManager: vm.group,
      autoscaler: pool.autoscaler,
    });
    const scaleIn = async () => scaleInPass(config, g.endpoints);
    if (config.drainMarks.admitPrefix)
      admit = async (readiness) => {
        const heldBeforeAdmission =
          (await until("held as a possible refill", 20_000, async () => {
            const r = await get(readiness);
            return r?.status === 503 && r.text.trim() === "cordoned";
          })) === true;
        const key = `${gcpDrainBucket(vm.project, gcpSpec.pool)}/${GCP_ADMIT_PREFIX}${vm.name}.${vm.id}`;
        // No recommendation (nothing drains) and a load that needs every host (none cordoned):
        // the pass only admits.
        pool.recommendedSize = undefined;
        const pass = await scaleInPass({ ...config, hostTarget: 1 }, g.endpoints);
        pool.recommendedSize = 1;
        return {
          heldBeforeAdmission,
          admittedByController: (pass.admitted ?? []).includes(vm.name) && g.objects().has(key),
        };
      };
    cordonRoundTrip = async (readiness, liveness, sessions) => {
      const key = `${gcpDrainBucket(vm.project, gcpSpec.pool)}/${GCP_CORDON_PREFIX}${vm.name}`;
      const within = (what: string, ms: number, probe: () => Promise<boolean>) =>
        until(what, ms, probe).then(
          () => true,
          () => false,
        );
      // No recommendation yet: nothing drains; the loads fit one host at 80 % of the target,
      // plus one: two stay in rotation, and this host expects fewer calls at the limit than the
      // peers (p9q8's old agent: 1000 streams, 250 calls; r7s6: 300), so it is the one cordoned.
      pool.recommendedSize = undefined;
      const first = await scaleIn();
      const cordonedByController =
        JSON.stringify(first.cordoned) === JSON.stringify([vm.name]) && g.objects().has(key);
      const outOfRotation = await within("cordoned", 10_000, async () => {
        const r = await get(readiness);
        return r?.status === 503 && r.text.trim() === "cordoned";
      });
      const aliveWhileCordoned = (await get(liveness))?.status === 200;
      const held = await sessions();
      const writes = standIns.calls.length;
      const publishedWhileCordoned = await within(
        "a load published while cordoned",
        30_000,
        async () =>
          standIns.calls.slice(writes).some((c) => {
            const { key: attribute, value } = (c.body ?? {}) as { key?: string; value?: string };
            return (
              c.action === "guest-attributes.put" &&
              attribute === "avfleet/load" &&
              value?.split(" ").length === 3
            );
          }),
      );
      // The load returns: at one stream per host it needs every host in rotation.
      const second = await scaleInPass({ ...config, hostTarget: 1 }, g.endpoints);
      const backInRotation =
        second.cordoned.length === 0 &&
        !g.objects().has(key) &&
        (await within(
          "back in rotation",
          10_000,
          async () => (await get(readiness))?.status === 200,
        ));
      pool.recommendedSize = 1;
      return {
        cordonedByController,
        outOfRotation,
        aliveWhileCordoned,
        publishedWhileCordoned,
        sessions: [held, await sessions()],
        backInRotation,
      };
    };
    const mark = async () => {
      markedByController =
        JSON.stringify((await scaleIn()).marked) === JSON.stringify([vm.name]) &&
        g.objects().has(`${gcpDrainBucket(vm.project, gcpSpec.pool)}/${gcpDrainObject(vm.name)}`);
    };
    deletePass = async () =>
      JSON.stringify((await scaleIn()).deleted) === JSON.stringify([vm.name]) &&
      !g.vms().some((v) => v.name === vm.name);
    control = { endpoints: g.endpoints, notice: mark };
  } else if (host.kind === "aws") {
    const a = await awsStandIns(standIns, {
      region: "us-east-1",
      zone: "us-east-1b",
      instanceId: "i-0abc1234def567890",
      role: "aws-use1-role",
      group: autoScalingGroupName(host.spec.pool),
      hook: AWS_DRAIN_HOOK,
      launchHook: AWS_LAUNCH_HOOK,
      metric: awsMediaMetric(host.spec.pool),
      policy: hostPolicy(host.spec as AwsFleetSpec, "arn:aws:autoscaling:us-east-1:123456789012:*"),
    });
    // The drain hook becomes active only once the instance has left its load balancer: past
    // the time its calls take to end, so the agent asks to complete before it is active.
    control = {
      endpoints: a.endpoints,
      notice: () =>
        a.terminate(DEREGISTRATION_MS, () => {
          const file = join(host.root, AGENT_STATE_DIR, "drain.json");
          completedBeforeActive =
            existsSync(file) && JSON.parse(readFileSync(file, "utf8")).completed === true;
        }),
    };
    // Launched into the warm pool: IMDS names the state it is headed for.
    a.launch("Warmed:Stopped");
    aws = a;
    // The pool's bucket holds the payload under its sha256's key; first with other bytes there.
    const payload = awsPayload(host);
    const key = payloadKey(sha256(payload));
    const objects = new Map([[key, '#!/bin/sh\ntouch "$AVFLEET_ROOT/swapped-ran"\n']]);
    const s3 = await s3StandIn(standIns, {
      objects,
      region: "us-east-1",
      prefix: PAYLOAD_PREFIX,
      credentials: a.credentials,
    });
    Object.assign(env, { AVFLEET_IMDS: a.endpoints.imds, AVFLEET_S3: s3 });
    restorePayload = () => objects.set(key, payload);
  } else {
    control = {
      endpoints: {},
      notice: () => {
        const r = sh(host.ns, metalPayload(host.spec, host.tuning, "draining").create, env);
        if (r.status !== 0) throw new Error(`drain payload: ${r.stderr}`);
      },
    };
  }

  const defaults = sysctlValues(host, env);
  let swappedRefused: boolean | undefined;
  if (restorePayload) {
    // A payload swapped under its key: the stub refuses it and runs nothing of it.
    let refused = false;
    try {
      await boot(host, env);
    } catch (e) {
      refused = /refused the payload: its sha256 is [0-9a-f]{64}/.test(String(e));
    }
    swappedRefused = refused && !existsSync(join(host.root, "swapped-ran"));
    restorePayload();
  }
  const swappedFetches = standIns.count("s3", "GetObject");
  await boot(host, env);
  // What makes this a rehearsal: a drop-in per unit pointing at the root and the stand-ins.
  const starts = systemctlStarts(host.root);
  for (const unit of ["avfleet-tune.service", TUNE_CHECK_UNIT, ...starts]) {
    const dir = join(host.root, `etc/systemd/system/${unit}.d`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "zz-rehearsal.conf"),
      `[Service]\nEnvironment=AVFLEET_ROOT=${host.root} AVFLEET_TUNE_ROOT=${host.root} AVFLEET_AGENT_ENDPOINTS=${JSON.stringify(control.endpoints)} PATH=${env.PATH}\n`,
    );
  }
  const wanted = host.tuning.settings.find((s) => s.name === "net.ipv4.udp_rmem_min")!.value;
  const readBack = sh(host.ns, "cat /proc/sys/net/ipv4/udp_rmem_min", env).stdout.trim();
  let tuned = readBack === wanted;

  let supervisor = new Supervisor(host.root, host.ns);
  const mediaUnit = host.tuning.facts.mediaUnit;
  const health = `http://${host.nsIp}:${host.spec.ports.health.port}${host.spec.ports.health.path}`;
  const metrics = `http://${host.nsIp}:${host.spec.ports.health.port}/metrics`;
  const admin = `http://127.0.0.1:${host.spec.workload.adminPort}`;
  const stats = async (): Promise<SfuCounts | undefined> => {
    const r = sh(host.ns, `curl -sf ${admin}/stats`, env);
    return r.status === 0 ? JSON.parse(r.stdout) : undefined;
  };
  /** The SFU's counts over every boot of the host (an AWS host's warm pool boot before this). */
  let sfuBefore: SfuCounts | undefined;
  const hostStats = async () => {
    const s = await stats();
    if (!s || !sfuBefore) return s;
    return {
      ...s,
      started: s.started + sfuBefore.started,
      joinsFailed: s.joinsFailed + sfuBefore.joinsFailed,
      ended: s.ended + sfuBefore.ended,
    };
  };
  let scrapes = 0;
  try {
    await supervisor.start(starts);
    let warm: Omit<WarmPoolResult, "waitingAtEnd"> | undefined;
    if (aws) {
      const cycle = await warmPoolCycle(
        host,
        env,
        standIns,
        aws,
        supervisor,
        starts,
        defaults,
        health,
        stats,
      );
      ({ supervisor, warm, sfuBefore } = cycle);
      tuned &&= warm.retuned;
    }
    // Of the host's last boot: after a warm pool's stop, the tuning unit tunes again first.
    const mediaAfterTuning = await startedAfterTuning(supervisor, mediaUnit, stats, wanted);

    const admission = await admit?.(health);
    const healthy =
      (await until("healthy", 20_000, async () => (await get(health))?.status === 200)) === true;
    // A cloud host's labels name it once the agent has asked the metadata server.
    const hostLabels = await until("the host counters", 10_000, async () => {
      const m = await get(metrics);
      const series = new RegExp(`^${EXPORTER_METRICS.inDatagrams}\\{([^}]*)\\} \\d+$`, "m").exec(
        m?.text ?? "",
      );
      const labels =
        series &&
        Object.fromEntries([...series[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
      return labels && (host.kind === "metal" || labels.zone) ? labels : undefined;
    });
    const posts = () =>
      host.kind === "gcp"
        ? standIns.count("monitoring", "timeSeries.create")
        : host.kind === "aws"
          ? // the load gauge's calls, not the alarm counters'
            (aws?.published().filter((d) => d.name === awsMediaMetric(host.spec.pool).name)
              .length ?? 0)
          : scrapes;
    await until("a load report", 20_000, async () => {
      if (host.kind === "metal") {
        const m = await get(metrics);
        if (
          m?.status === 200 &&
          new RegExp(`^avfleet_media_streams\\{pool="${host.spec.pool}"\\} \\d+$`, "m").test(m.text)
        )
          scrapes++;
      }
      return posts() > 0;
    });
    const site =
      host.kind === "metal" ? await siteScrape(host.spec.pool, host.ns, host.nsIp) : undefined;

    const counters =
      aws &&
      (await countersArrive(host.root, host.spec, standIns, aws.published, until, {
        quiet: (on) => sh(host.ns, `curl -sf -X POST ${admin}/${on ? "pause" : "resume"}`, env),
        sessions: async () => (await stats())?.sessions,
      }));

    const drainFile = join(host.root, AGENT_STATE_DIR, "drain.json");
    const cutFile = join(host.root, "var/lib/avfleet-sfu/cut");
    if (notice === "shutdown") {
      // systemd is stopping the system (the VM's graceful shutdown): the agent stops first.
      writeFileSync(join(host.root, "run/system-state"), "stopping\n");
      const stopping = supervisor.stopAll();
      const unhealthy = await until(
        "unhealthy at shutdown",
        10_000,
        async () => (await get(health))?.status !== 200,
      );
      await stopping;
      const state = JSON.parse(readFileSync(drainFile, "utf8"));
      return {
        kind: host.kind,
        tuned,
        mediaAfterTuning,
        healthy,
        unhealthyWhileDraining: unhealthy === true,
        metricPosts: posts(),
        heartbeats: 0,
        drained:
          state.reason === "shutdown" &&
          state.completed &&
          standIns.count("compute", "deleteInstances") === 0,
        sessionsAtCompletion: state.sessionsLeft,
        callsCut: Number(readFileSync(cutFile, "utf8")),
        agentRestartsSurvived: 0,
        markedByController: false,
        deletedByController: false,
        drainSeconds: host.spec.drainSeconds,
        hostLabels,
      };
    }
    // Calls are held open through the kill -9 below: on a slow machine they would otherwise
    // all end (4–9 s) before it, leaving no drain in progress to survive.
    await until("a call in progress", 10_000, async () => ((await stats())?.sessions ?? 0) > 0);
    sh(host.ns, `curl -sf -X POST ${admin}/hold`, env);
    const cordon = await cordonRoundTrip?.(
      health,
      `http://${host.nsIp}:${host.spec.ports.health.port}${LIVENESS_PATH}`,
      async () => (await stats())?.sessions ?? 0,
    );
    await control.notice();
    const autohealer = host.kind === "gcp" ? autohealerStandIn(host) : undefined;
    const unhealthyWhileDraining =
      (await until(
        "unhealthy on drain",
        10_000,
        async () => (await get(health))?.status === 503,
      )) === true;
    // Heartbeats while sessions remain: AWS's hook, whether active yet or not; on GCP the
    // "draining" attribute that tells the scale-in controller the host saw its mark.
    const heartbeats = () =>
      hookCalls(standIns, "RecordLifecycleActionHeartbeat", AWS_DRAIN_HOOK) +
      hookCalls(standIns, "RecordLifecycleActionHeartbeat:refused", AWS_DRAIN_HOOK) +
      drainAttributeWrites(standIns, "draining");
    if (host.kind === "aws") await until("a heartbeat", 10_000, () => heartbeats() > 0);

    // kill -9 the agent mid-drain: systemd (here the supervisor) restarts it; it resumes.
    // The agent answers 503 as soon as it drains; its state file follows.
    const before = await until(
      "the drain state on disk",
      10_000,
      () => existsSync(drainFile) && JSON.parse(readFileSync(drainFile, "utf8")),
    );
    let agentRestartsSurvived = 0;
    const sessionsBefore = (await stats())?.sessions ?? 0;
    process.kill(supervisor.pid(AGENT_UNIT)!, "SIGKILL");
    await until(
      "the agent back",
      10_000,
      () =>
        supervisor.events.some((e) => e.unit === AGENT_UNIT && e.event === "restarted") &&
        supervisor.pid(AGENT_UNIT),
    );
    sh(host.ns, `curl -sf -X POST ${admin}/release`, env);

    const completed = async () => {
      // The agent writes "draining <epoch>" while it drains, "done …" once it may go.
      if (host.kind === "gcp") return drainAttributeWrites(standIns, "done") > 0;
      if (host.kind === "aws")
        return hookCalls(standIns, "CompleteLifecycleAction", AWS_DRAIN_HOOK) > 0;
      return existsSync(join(host.root, AGENT_STATE_DIR, "drained"));
    };
    await until("the drain to complete", 30_000, completed);
    // The agent records the completion right after the platform call.
    const after = await until("the drain recorded", 5_000, () => {
      const state = JSON.parse(readFileSync(drainFile, "utf8"));
      return state.completed ? state : undefined;
    });
    const sessionsAtCompletion = after.sessionsLeft as number | undefined;
    if (
      after.startedAt === before.startedAt &&
      after.deadline === before.deadline &&
      sessionsBefore > 0
    )
      agentRestartsSurvived++;
    if (host.kind === "metal") {
      const m = await get(metrics);
      if (m?.status === 200 && /^avfleet_agent_draining 1$/m.test(m.text)) scrapes++;
    }
    const sessions = await sessionsOnHost(
      async () => (await get(metrics))?.text,
      hostStats,
      () =>
        JSON.parse(sh(host.ns, `curl -sf ${admin}${host.spec.workload.sessionsPath}`, env).stdout),
    );
    const healing = await autohealer?.stop();
    // The controller's next pass reads the drain's guest attribute and deletes the VM.
    const deletedByController = (await deletePass?.()) ?? false;
    const activeAt = aws?.drainHookActiveAt();
    const drainHook = aws && {
      noActive:
        hookCalls(standIns, "RecordLifecycleActionHeartbeat:refused", AWS_DRAIN_HOOK) +
        hookCalls(standIns, "CompleteLifecycleAction:refused", AWS_DRAIN_HOOK),
      completedBeforeActive,
      completedAfterActive:
        activeAt !== undefined &&
        standIns.calls.some(
          (c) =>
            c.action === "CompleteLifecycleAction" &&
            (c.body as Record<string, string>).LifecycleHookName === AWS_DRAIN_HOOK &&
            c.at >= activeAt,
        ),
    };

    // The platform takes the host away: systemd stops the units (the media server last).
    await supervisor.stopAll();
    const callsCut = existsSync(cutFile) ? Number(readFileSync(cutFile, "utf8")) : NaN;
    return {
      kind: host.kind,
      tuned,
      mediaAfterTuning,
      healthy,
      unhealthyWhileDraining,
      metricPosts: posts(),
      heartbeats: heartbeats(),
      drained: await completed(),
      sessionsAtCompletion,
      callsCut,
      agentRestartsSurvived,
      markedByController,
      deletedByController,
      ...(healing ? { autohealer: healing } : {}),
      ...(cordon ? { cordon } : {}),
      ...(admission ? { admission } : {}),
      ...(drainHook ? { drainHook } : {}),
      drainSeconds: host.spec.drainSeconds,
      hostLabels,
      ...(aws && warm ? { warm: { ...warm, waitingAtEnd: aws.waiting() } } : {}),
      ...(site ? { site } : {}),
      ...(sessions ? { sessions } : {}),
      // Fetches since the payload was restored: its first boot's, none at the warm pool's start.
      ...(swappedRefused !== undefined
        ? {
            payload: {
              fetches: standIns.count("s3", "GetObject") - swappedFetches,
              swappedRefused,
            },
          }
        : {}),
      ...(counters ? { counters } : {}),
    };
  } finally {
    await supervisor.stopAll();
  }
}

/** A rehearsal's pace: load reports every second, and the shortest drain a spec may ask. */
export function fast(s: any): void {
  s.agent = { intervalSec: 1 };
  s.drainSeconds = 60;
}

/** The bare-metal host's hardware (this machine has 2 CPUs). */
export const METAL_HARDWARE: HostHardware = {
  cores: 2,
  nicDriver: "ice",
  rxQueues: 2,
  txQueues: 2,
  streamsPerHost: 6000,
  interfaces: ["eth0"],
};

/** Rehearses the three hosts one after another (each brings its own namespace and root). */
export async function rehearseHosts(prefix = `host-${process.pid}`): Promise<RehearsalResult> {
  const specs: Array<[FleetSpec, HostHardware]> = [
    [
      // The host leaves through the scale-in controller's mark, as every GCP host does.
      spec("gcp-us-west1", fast),
      {
        cores: 2,
        nicDriver: "gve",
        rxQueues: 2,
        txQueues: 2,
        streamsPerHost: 4800,
        interfaces: ["eth0"],
      },
    ],
    [
      spec("aws-us-east-1", fast),
      {
        cores: 2,
        nicDriver: "ena",
        rxQueues: 2,
        txQueues: 2,
        streamsPerHost: 4000,
        interfaces: ["eth0"],
      },
    ],
    [
      spec("metal-sjc", (s) => {
        fast(s);
        probedHere(s);
      }),
      METAL_HARDWARE,
    ],
  ];
  const octet = 100 + (process.pid % 150);
  const results: HostResult[] = [];
  const problems: string[] = [];
  const runs: Array<[FleetSpec, HostHardware, "platform" | "shutdown"]> = [
    ...specs.map(([s, hw]) => [s, hw, "platform"] as [FleetSpec, HostHardware, "platform"]),
    [specs[0][0], specs[0][1], "shutdown"],
  ];
  for (const [i, [s, hw, notice]] of runs.entries()) {
    const host: Host = {
      kind: s.kind,
      spec: s,
      // This machine has 2 CPUs: the media worker is CPU 1 (the fleet's rule reserves 2).
      tuning: renderTuning(s.tuning.profile, { ...hostFacts(s, hw), mediaWorkerCpus: "1" }),
      ns: `${prefix}-${s.kind}${i}`,
      root: mkdtempSync(join(tmpdir(), `${prefix}-${s.kind}${i}-`)),
      hostIp: `10.${octet}.${i}.1`,
      nsIp: `10.${octet}.${i}.2`,
    };
    // What every Debian image has and the bootstrap writes into (policy-rc.d).
    mkdirSync(join(host.root, "usr/sbin"), { recursive: true });
    const veth = `hr${i}${process.pid % 100000}`;
    const standIns = new StandIns(host.hostIp);
    try {
      setUpNetns(host.ns, veth, host.hostIp, host.nsIp);
      results.push(await rehearseHost(host, standIns, notice));
      // Every install ran behind the bootstrap's policy-rc.d (101: no restart), gone after it.
      const calls = join(host.root, "var/log/apt-get.calls");
      const asked = existsSync(calls)
        ? (readFileSync(calls, "utf8").match(/^policy-rc\.d .*$/gm) ?? [])
        : [];
      for (const line of asked.filter((l) => !l.endsWith(": 101"))) {
        problems.push(`${s.kind}: an install could restart the media server (${line})`);
      }
      if (existsSync(join(host.root, "usr/sbin/policy-rc.d"))) {
        problems.push(`${s.kind}: the bootstrap left its policy-rc.d behind`);
      }
    } finally {
      standIns.close();
      problems.push(...standIns.problems.map((p) => `${s.kind}: ${p}`));
      spawnSync("ip", ["link", "del", veth]);
      spawnSync("ip", ["netns", "del", host.ns]);
      rmSync(host.root, { recursive: true, force: true });
    }
  }
  return { hosts: results.slice(0, specs.length), shutdown: results[specs.length], problems };
}

export function summaryLine(r: RehearsalResult): string {
  const h = r.hosts;
  const count = (f: (x: HostResult) => boolean) => h.filter(f).length;
  return (
    `host: hosts=${h.length} tuned=${count((x) => x.tuned && x.mediaAfterTuning)} healthy=${count((x) => x.healthy)}` +
    ` metric_posts=${h.reduce((n, x) => n + x.metricPosts, 0)}` +
    ` drains=${count((x) => x.drained && x.unhealthyWhileDraining && x.sessionsAtCompletion === 0)}` +
    ` calls_cut=${h.reduce((n, x) => n + x.callsCut, 0)}` +
    ` agent_restarts_survived=${h.reduce((n, x) => n + x.agentRestartsSurvived, 0)}`
  );
}
