/**
 * The container rehearsal: a host whose media server is a container image boots from the payload
 * the fleet renders, in a network namespace of its own, and its media unit runs with the real
 * podman from Debian against an image built here (no registry is reachable: the stand-in media
 * server and a Python runtime taken from this machine's files, imported as localhost/…). The
 * host is a bare-metal one, which needs no cloud stand-ins: the unit is the same on every
 * platform. Needs root, podman, nsenter, ip, nft, ethtool, python3, curl.
 *
 * What the rehearsal changes from the rendered bytes, and why (each listed in the result):
 *   - a private image store and containers.conf through podman's own environment variables,
 *     so that nothing here touches the machine's /var/lib/containers;
 *   - runc as the OCI runtime when this machine's cgroups are the hybrid v1 layout, which
 *     Debian 12's crun refuses ("cgroups in hybrid mode not supported"); Debian 12's own boot
 *     is unified cgroup v2, where crun (what podman installs) runs;
 *   - the file limit, when this machine withholds CAP_SYS_RESOURCE (no raising a limit past
 *     its hard limit), clamped to the hard limit podman may set here.
 */
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { hostFacts } from "../../modules/tuning/host-facts";
import { renderTuning } from "../../modules/tuning";
import {
  containerCommand,
  containerName,
  AGENT_UNIT,
  TUNE_CHECK_UNIT,
} from "../../modules/host/units";
import { containerImage } from "../../modules/host/image";
import {
  boot,
  fast,
  probedHere,
  FIXTURES,
  METAL_HARDWARE,
  get,
  sh,
  setUpNetns,
  spec,
  startedAfterTuning,
  systemctlStarts,
  until,
  type Host,
} from "./rehearsal";
import { Supervisor, type UnitEvent } from "./supervisor";

const IMAGE_NAME = "localhost/avfleet-rehearsal-sfu";
/** Sessions outlast podman's default stop timeout (10 s): a stop that waits them out honours ours. */
const SESSION_SEC = "12-15";
const PODMAN_DEFAULT_STOP_SEC = 10;

export interface ContainerRehearsal {
  /** The image reference the unit ran: name@digest. */
  ref: string;
  /** The media server started after the tuning unit, and read tuned values at its start. */
  mediaAfterTuning: boolean;
  /** The agent's health check answered 200 with the server in its container. */
  healthy: boolean;
  /** The running container's own stop timeout, as podman inspect reports it (seconds). */
  containerStopTimeout: number;
  /** Sessions live when the unit was told to stop. */
  sessionsAtStop: number;
  stopSeconds: number;
  /** How podman run (the unit's main process) ended. */
  exit: Pick<UnitEvent, "code" | "signal">;
  /** Sessions the server cut, as it said on its way out (undefined: it never said: killed). */
  cut: number | undefined;
  /** The server's process as the host's kernel sees it: its real uid, effective capabilities. */
  server: { uid: number; capEff: string };
  /** An image that cannot be pulled: the unit does not start and the agent says unhealthy. */
  pullFailure: { started: boolean; health: number | undefined; containers: string };
  deviations: string[];
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, input?: Buffer) {
  const r = spawnSync(command, args, { env, input, maxBuffer: 1 << 28 });
  if (r.status !== 0)
    throw new Error(`${command} ${args.join(" ")}: ${r.stderr?.toString() ?? r.error}`);
  return r.stdout.toString().trim();
}

/**
 * A private store and containers.conf for podman (its documented variables), and what this
 * machine makes the rehearsal change.
 */
function podmanSetting(dir: string): { env: Record<string, string>; deviations: string[] } {
  const deviations = ["image store and containers.conf of the rehearsal's own"];
  // vfs: no overlay mounts left behind in a directory the rehearsal deletes.
  writeFileSync(
    join(dir, "storage.conf"),
    `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`,
  );
  const unified = statfsSync("/sys/fs/cgroup").type === 0x63677270; // CGROUP2_SUPER_MAGIC
  if (!unified) deviations.push("runc for crun: this machine's cgroups are hybrid v1");
  writeFileSync(join(dir, "containers.conf"), unified ? "" : `[engine]\nruntime = "runc"\n`);
  return {
    env: {
      CONTAINERS_STORAGE_CONF: join(dir, "storage.conf"),
      CONTAINERS_CONF: join(dir, "containers.conf"),
    },
    deviations,
  };
}

/** The stand-in media server on a Python runtime from this machine, as one image layer. */
function buildImage(dir: string, env: NodeJS.ProcessEnv): string {
  const rootfs = join(dir, "rootfs");
  const python = realpathSync("/usr/bin/python3");
  const libs = [...run("ldd", [python], env).matchAll(/(\/\S+\.so[.\d]*)/g)].map((m) => m[1]);
  // glibc loads it when a thread exits (pthread_exit unwinds); ldd does not list it.
  libs.push(join(dirname(libs.find((l) => l.includes("libc.so"))!), "libgcc_s.so.1"));
  for (const file of [python, ...libs]) {
    mkdirSync(join(rootfs, dirname(file)), { recursive: true });
    copyFileSync(file, join(rootfs, file));
  }
  const stdlib = run(
    python,
    ["-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
    env,
  );
  const target = join(rootfs, dirname(stdlib));
  mkdirSync(target, { recursive: true });
  const excluded = ["__pycache__", "test", "tests", "idlelib", "tkinter", "ensurepip", "lib2to3"]
    .concat(["site-packages", "dist-packages"])
    .map((e) => `--exclude=${e}`)
    .join(" ");
  const tar = spawnSync(
    "sh",
    ["-c", `tar -C "$1" ${excluded} -cf - "$2" | tar -C "$3" -xf -`, "sh"].concat([
      dirname(stdlib),
      basename(stdlib),
      target,
    ]),
    { env },
  );
  if (tar.status !== 0) throw new Error(`copying the standard library: ${tar.stderr}`);
  mkdirSync(join(rootfs, "usr/bin"), { recursive: true });
  copyFileSync(join(FIXTURES, "sfu.py"), join(rootfs, "usr/bin/avfleet-sfu"));
  const layer = spawnSync("tar", ["-C", rootfs, "-cf", "-", "."], { maxBuffer: 1 << 28 }).stdout;
  run(
    "podman",
    [
      "import",
      "--change",
      `CMD ["${python}", "/usr/bin/avfleet-sfu"]`,
      "--change",
      "ENV AVFLEET_SFU_ON_TERM=drain",
      "--change",
      `ENV AVFLEET_SFU_SESSION_SEC=${SESSION_SEC}`,
      "-",
      `${IMAGE_NAME}:rehearsal`,
    ],
    env,
    layer,
  );
  return run(
    "podman",
    ["image", "inspect", "--format", "{{.Digest}}", `${IMAGE_NAME}:rehearsal`],
    env,
  );
}

/** CapEff holds CAP_SYS_RESOURCE (bit 24): root may raise a hard limit. */
function maySetAnyLimit(): boolean {
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  return capEff !== undefined && (BigInt(`0x${capEff}`) >> 24n) % 2n === 1n;
}

/** This process's hard limit, as /proc/self/limits words it ("Max open files"). */
function hardLimit(name: string): string {
  const line = readFileSync("/proc/self/limits", "utf8")
    .split("\n")
    .find((l) => l.startsWith(name));
  return line!.slice(name.length).trim().split(/\s+/)[1];
}

export async function rehearseContainer(prefix = `container-${process.pid}`) {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const podman = podmanSetting(dir);
  const deviations = [...podman.deviations];
  const env = { ...process.env, ...podman.env };
  const octet = 100 + (process.pid % 150);
  const veth = `hc${process.pid % 100000}`;
  const ns = `${prefix}-metal`;
  try {
    const digest = buildImage(dir, env);
    const workloadOf = (digestOf: string) => (s: any) => {
      fast(s);
      probedHere(s);
      const { adminPort, healthPath, statsPath, drainPath, sessionsPath } = s.workload;
      s.workload = { image: IMAGE_NAME, version: "rehearsal", digest: digestOf, adminPort };
      Object.assign(s.workload, { healthPath, statsPath, drainPath, sessionsPath });
    };
    // Signaling above 1024, as a pool whose host keeps the kernel's unprivileged port start (the
    // stand-in binds no signaling port; a bind of 443 from a user namespace: test/security/05).
    const fleet = spec("metal-sjc", (s) => {
      workloadOf(digest)(s);
      s.ports.signalingTcp = [8443];
    });
    const hostOf = (s: FleetSpec, root: string): Host => ({
      kind: s.kind,
      spec: s,
      tuning: renderTuning(s.tuning.profile, {
        ...hostFacts(s, METAL_HARDWARE),
        mediaWorkerCpus: "1",
      }),
      ns,
      root,
      hostIp: `10.${octet}.200.1`,
      nsIp: `10.${octet}.200.2`,
    });
    const host = hostOf(fleet, join(dir, "root"));
    setUpNetns(ns, veth, host.hostIp, host.nsIp);

    const bootEnv = { ...env, AVFLEET_ROOT: host.root, PATH: `${FIXTURES}/bin:${env.PATH}` };
    const mediaUnit = host.tuning.facts.mediaUnit;
    const prepare = async (h: Host) => {
      await boot(h, bootEnv);
      const image = containerImage(h.spec)!;
      let execStart = "";
      if (!maySetAnyLimit()) {
        // nproc: podman's own default (32768), which it otherwise sets past this machine's reach.
        const nofile = hardLimit("Max open files");
        const nproc = Math.min(32768, Number(hardLimit("Max processes")));
        execStart = `ExecStart=${containerCommand(h.spec, image).replace(
          /--ulimit=nofile=\S+/,
          `--ulimit=nofile=${nofile}:${nofile} --ulimit=nproc=${nproc}:${nproc}`,
        )}\n`;
      }
      for (const unit of ["avfleet-tune.service", TUNE_CHECK_UNIT, ...systemctlStarts(h.root)]) {
        const dropIns = join(h.root, `etc/systemd/system/${unit}.d`);
        mkdirSync(dropIns, { recursive: true });
        const environment = Object.entries({
          AVFLEET_ROOT: h.root,
          AVFLEET_TUNE_ROOT: h.root,
          AVFLEET_AGENT_ENDPOINTS: "{}",
          PATH: bootEnv.PATH,
          ...podman.env,
        })
          .map(([k, v]) => `${k}=${v}`)
          .join(" ");
        writeFileSync(
          join(dropIns, "zz-rehearsal.conf"),
          `[Service]\nEnvironment=${environment}\n${unit === mediaUnit ? execStart : ""}`,
        );
      }
      return execStart;
    };
    if (await prepare(host)) deviations.push("file limit clamped to this machine's hard limits");

    const supervisor = new Supervisor(host.root, ns);
    const stats = async () => {
      const r = sh(ns, `curl -sf http://127.0.0.1:${fleet.workload.adminPort}/stats`, bootEnv);
      return r.status === 0 ? JSON.parse(r.stdout) : undefined;
    };
    const health = `http://${host.nsIp}:${fleet.ports.health.port}${fleet.ports.health.path}`;
    const wanted = host.tuning.settings.find((s) => s.name === "net.ipv4.udp_rmem_min")!.value;
    let result: Omit<ContainerRehearsal, "pullFailure" | "deviations">;
    try {
      await supervisor.start([mediaUnit, AGENT_UNIT]);
      const mediaAfterTuning = await startedAfterTuning(supervisor, mediaUnit, stats, wanted);
      const healthy = await until(
        "healthy",
        20_000,
        async () => (await get(health))?.status === 200,
      );
      const load = await until("sessions", 20_000, async () => {
        const s = await stats();
        return s && s.sessions >= 2 ? s : undefined;
      });
      const pid = run(
        "podman",
        ["inspect", "--format", "{{.State.Pid}}", containerName(fleet)],
        env,
      );
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const server = {
        uid: Number(/^Uid:\s+(\d+)/m.exec(status)![1]),
        capEff: /^CapEff:\s+(\S+)/m.exec(status)![1],
      };
      const containerStopTimeout = Number(
        run(
          "podman",
          ["inspect", "--format", "{{.Config.StopTimeout}}", containerName(fleet)],
          env,
        ),
      );
      const started = Date.now();
      await supervisor.stop(mediaUnit);
      const exited = supervisor.events
        .filter((e) => e.unit === mediaUnit && e.event === "exited")
        .at(-1)!;
      const said = /cut=(\d+)/.exec(supervisor.stderr.get(mediaUnit) ?? "")?.[1];
      result = {
        ref: containerImage(fleet)!.ref,
        mediaAfterTuning,
        healthy: healthy === true,
        containerStopTimeout,
        sessionsAtStop: load.sessions,
        stopSeconds: (Date.now() - started) / 1000,
        exit: { code: exited.code, signal: exited.signal },
        cut: said === undefined ? undefined : Number(said),
        server,
      };
    } finally {
      await supervisor.stopAll();
    }

    // The same host told to run an image that no registry serves.
    const missing = `sha256:${"0".repeat(64)}`;
    const broken = hostOf(spec("metal-sjc", workloadOf(missing)), host.root);
    await prepare(broken);
    const second = new Supervisor(host.root, ns);
    let started = true;
    try {
      await second.start([mediaUnit]);
    } catch {
      started = false;
    }
    let pullFailure: ContainerRehearsal["pullFailure"];
    try {
      await second.start([AGENT_UNIT]);
      const status = await until(
        "the agent's answer",
        20_000,
        async () => (await get(health))?.status,
      );
      pullFailure = {
        started,
        health: status,
        containers: run(
          "podman",
          ["ps", "-a", "-q", "--filter", `name=${containerName(fleet)}`],
          env,
        ),
      };
    } finally {
      await second.stopAll();
    }
    return { ...result, pullFailure, deviations } satisfies ContainerRehearsal;
  } finally {
    spawnSync("podman", ["rm", "-f", "--all"], { env });
    spawnSync("ip", ["link", "del", veth]);
    spawnSync("ip", ["netns", "del", ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The podman default the rehearsal proves is not what stops the server. */
export { PODMAN_DEFAULT_STOP_SEC };
