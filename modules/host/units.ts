/**
 * The two systemd units a media host runs besides the tuning: the media server (the
 * workload) and the host agent. Pure renders.
 */
import type { FleetSpec, GcpFleetSpec } from "../config/fleet.schema";
import { privilegedPorts } from "../tuning/host-facts";
import { PROFILES } from "../tuning/profiles";
import { BOOT_UNIT as TUNE_UNIT, SCRIPT_PATH } from "../tuning/settings";
import { STUB_FETCH_SECONDS } from "./boot-stub";
import { containerImage, type ContainerImage } from "./image";

export { TUNE_UNIT };
export const AGENT_UNIT = "avfleet-agent.service";
/** The launcher the agent's units run; the package it runs is in AGENT_LIB_DIR. */
export const AGENT_PATH = "/usr/local/sbin/avfleet-agent";
/** Not a python3 site directory: those are per Python version, and no other program's. */
export const AGENT_LIB_DIR = "/usr/local/lib/avfleet-agent";
export const AGENT_CONFIG_PATH = "/etc/avfleet/agent.json";
/**
 * Root's: where a drain is requested on bare metal, the host's release, the bare-metal payload.
 * The agent reads it and never writes it.
 */
export const STATE_DIR = "/var/lib/avfleet";
/** The agent's own (its user's): its drain state, the drained mark, its session cursor. */
export const AGENT_STATE_DIR = `${STATE_DIR}/agent`;
/** This boot's marks (the bootstrap's, the tuning verdict): /run is emptied at every boot. */
export const RUN_DIR = "/run/avfleet";
/** The agent's own marks of this boot (its start). */
export const AGENT_RUN_DIR = `${RUN_DIR}/agent`;
/** The tuning check's last verdict, written by root's TUNE_CHECK_UNIT, read by the agent. */
export const TUNE_VERDICT_PATH = `${RUN_DIR}/tune-verdict.json`;
export const TUNE_CHECK_UNIT = "avfleet-tune-check.service";
export const TUNE_CHECK_TIMER = "avfleet-tune-check.timer";
/** *.prom files here are served on the agent's /metrics (the node-exporter textfile idea). */
export const TEXTFILE_DIR = "/var/lib/avfleet/textfile";

/** Seconds systemd gives the media server beyond the drain before it kills what is left. */
export const STOP_MARGIN_SEC = 60;

export function workloadCommand(spec: FleetSpec): string {
  return spec.workload.command ?? `/usr/bin/${spec.workload.package}`;
}

/** Debian 12's podman (4.3.1), installed by the bootstrap from Debian's own repository. */
export const PODMAN = "/usr/bin/podman";

/** A container workload's container: one per host, named after the pool. */
export function containerName(spec: FleetSpec): string {
  return `avfleet-${spec.pool}`;
}

/**
 * Seconds systemd allows for the start of a container unit: the image pull is part of it
 * (systemd's default 90 s is short for a media server's image on a cold host).
 */
export const CONTAINER_START_SEC = 600;

/**
 * A failed start (a pull the registry refused) is tried again after this long. Above 2 s so that
 * five failures never fall inside systemd's default start limit (5 in 10 s), which would stop the
 * retries for good.
 */
export const CONTAINER_RESTART_SEC = 10;

/**
 * Seconds a host may take from launch to serving (an AWS pool's launching hook timeout, a GCP
 * pool's autohealing initial delay): the bootstrap's package install and the tuning, plus a
 * container pool's image pull, plus on AWS its boot stub's fetch of the payload at worst.
 */
export function launchSeconds(spec: FleetSpec): number {
  const fetch = spec.kind === "aws" ? STUB_FETCH_SECONDS : 0;
  return fetch + 300 + (containerImage(spec) ? CONTAINER_START_SEC : 0);
}

const AUTOHEALING_MARGIN_SEC = 120;
const AUTOHEALING_MAX_DELAY_SEC = 3600;

/**
 * Seconds the autohealer leaves a new VM alone: its boot budget (launchSeconds: installs, tuning
 * and a container pool's image pull) and a margin, at most GCP's 3600
 * (InstanceGroupManagerAutoHealingPolicy.initialDelaySec, Compute v1 reference). A host still
 * booting past it would be recreated, and booting again, recreated again. A standby pool's
 * refill is stopped as long after its creation (modules/scaling/compile.ts), which the host's
 * agent reads as well (agent.ts, standbyHold): here, below both.
 */
export function autohealingInitialDelaySec(spec: GcpFleetSpec): number {
  return Math.min(launchSeconds(spec) + AUTOHEALING_MARGIN_SEC, AUTOHEALING_MAX_DELAY_SEC);
}

/**
 * The host IDs a container's IDs 0-65535 become when it runs in a user namespace: the range
 * podman's documentation gives its `containers` user for --userns=auto, far above any account's
 * or subordinate range (podman-run(1), --userns=auto,
 * https://docs.podman.io/en/v4.3/markdown/podman-run.1.html). Root's podman maps any range
 * without /etc/subuid (--uidmap, same page).
 */
export const CONTAINER_HOST_ID = 2147483647;
export const CONTAINER_IDS = 65536;

/**
 * The container's privileges: no capability, no new privileges through setuid files, a
 * read-only image (podman's default --read-only-tmpfs keeps /tmp, /var/tmp and /run writable
 * tmpfs), and its root is no root of the host: a user namespace of its own. A port below 1024
 * cannot come from a capability here: with --network=host the socket belongs to the host's
 * network namespace, whose owner (the initial user namespace) alone may grant that bind
 * (user_namespaces(7), https://man7.org/linux/man-pages/man7/user_namespaces.7.html: checked
 * here, a bind of 443 from `unshare --user --map-root-user` is refused). The host's tuning
 * lowers ip_unprivileged_port_start to that port instead (modules/tuning/host-facts.ts).
 */
export function containerPrivileges(): string[] {
  const ids = `0:${CONTAINER_HOST_ID}:${CONTAINER_IDS}`;
  return [
    "--cap-drop=all",
    `--uidmap=${ids}`,
    `--gidmap=${ids}`,
    "--security-opt=no-new-privileges",
    "--read-only",
  ];
}

/**
 * How a container unit runs its image: podman in the foreground in the host's network namespace
 * (media ports straight on the host's address: no NAT, no port publishing, and the tuning's
 * sysctls are the host's own, which is also why no --sysctl is passed: podman refuses net.*
 * sysctls with --network=host), with containerPrivileges, the tuning's file limit, a stop
 * timeout as long as the drain (podman's own stops: its default is 10 s), and the image the
 * unit's pull step has already put on the host (--pull=never).
 */
export function containerCommand(spec: FleetSpec, image: ContainerImage): string {
  const nofile = PROFILES[spec.tuning.profile].nofile;
  return [
    `${PODMAN} run`,
    `--name=${containerName(spec)}`,
    "--replace",
    "--rm",
    "--pull=never",
    "--network=host",
    ...containerPrivileges(),
    `--ulimit=nofile=${nofile}:${nofile}`,
    "--stop-signal=SIGTERM",
    `--stop-timeout=${spec.drainSeconds}`,
    `--env=AVFLEET_ADMIN_PORT=${spec.workload.adminPort}`,
    image.ref,
  ].join(" ");
}

/** The pull step: the image on the host (pulled with the platform's credentials), or a failure. */
export function pullCommand(): string {
  return `/usr/bin/python3 ${AGENT_PATH} --pull ${AGENT_CONFIG_PATH}`;
}

/** systemd.exec(5), the directives below: https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html */
const HARDENING = [
  "NoNewPrivileges=yes",
  "ProtectSystem=strict",
  "ProtectHome=yes",
  "PrivateTmp=yes",
  "PrivateDevices=yes",
  "ProtectKernelTunables=yes",
  "ProtectKernelModules=yes",
  "ProtectKernelLogs=yes",
  "ProtectControlGroups=yes",
  "RestrictSUIDSGID=yes",
  "LockPersonality=yes",
];

/**
 * A package workload's server runs as a user of its own that systemd allocates (DynamicUser=:
 * no account to create, none left behind, and it implies its own ProtectSystem=strict and
 * RemoveIPC=), with a state directory of its own as the only writable place, and no capability
 * but the bind of a port below 1024 when the fleet has one: an exploit of the Internet-facing
 * server is an unprivileged process in a read-only file system.
 */
function serverSandbox(spec: FleetSpec): string[] {
  const bind = privilegedPorts(spec).length > 0;
  return [
    "DynamicUser=yes",
    "StateDirectory=avfleet-media",
    ...HARDENING,
    `CapabilityBoundingSet=${bind ? "CAP_NET_BIND_SERVICE" : ""}`,
    ...(bind ? ["AmbientCapabilities=CAP_NET_BIND_SERVICE"] : []),
  ];
}

/**
 * The services a draining host keeps running, per platform: the media server's and the agent's
 * units start After= them, so at a shutdown or reboot they stop only once the drain is over
 * ("when two units with an ordering dependency between them are shut down, the inverse of the
 * start-up order is applied", systemd.unit(5),
 * https://www.freedesktop.org/software/systemd/man/latest/systemd.unit.html#Before=): ssh stays
 * reachable and the host monitored for up to the drain limit. An ordering only applies between
 * units that both have a job, so one not installed on an image orders nothing (same page).
 * GCP: Debian's sshd (ssh.service), the guest agent (its users' keys, OS Login), the Ops Agent
 * and its two subagents, whose units order themselves apart from it (GoogleCloudPlatform/ops-agent
 * systemd/google-cloud-ops-agent-{fluent-bit,opentelemetry-collector}.service); AWS: sshd and the
 * SSM agent (Session Manager) where the AMI has it; bare metal: sshd. Everywhere
 * systemd-user-sessions.service, whose stop writes /run/nologin and so refuses every non-root
 * login (systemd-user-sessions.service(8)); GCE's newer guest agent also runs as
 * google-guest-agent-manager.service (GoogleCloudPlatform/guest-agent).
 */
export const DRAIN_OUTLIVES: Record<FleetSpec["kind"], readonly string[]> = {
  gcp: [
    "ssh.service",
    "systemd-user-sessions.service",
    "google-guest-agent.service",
    "google-guest-agent-manager.service",
    "google-cloud-ops-agent.service",
    "google-cloud-ops-agent-fluent-bit.service",
    "google-cloud-ops-agent-opentelemetry-collector.service",
  ],
  aws: ["ssh.service", "systemd-user-sessions.service", "amazon-ssm-agent.service"],
  metal: ["ssh.service", "systemd-user-sessions.service"],
};

/**
 * The media server's unit. It never starts before the tuning is applied and verifies (Wants= +
 * After= the tuning unit, then verify as ExecStartPre: a oneshot that failed or drifted fails
 * the start). Wants=, not Requires=: a Requires= unit is stopped or restarted with the unit it
 * requires (systemd.unit(5), Requires=), so restarting avfleet-tune by hand would restart the
 * media server and cut every call. A stop waits out the whole drain. A container workload
 * pulls its image before the server starts: a failed pull fails the start, so the host never
 * serves half-started and its health check says so.
 */
export function workloadUnit(spec: FleetSpec): string {
  const { workload } = spec;
  const image = containerImage(spec);
  const start = image
    ? [
        `ExecStartPre=${pullCommand()}`,
        `ExecStart=${containerCommand(spec, image)}`,
        // A stop signals podman run alone, which hands the signal to the server (--sig-proxy,
        // podman's default) and exits with the server's own status once the drain is over; the
        // unit's other processes (conmon) get SIGKILL only if the stop timeout runs out.
        "KillMode=mixed",
        // The container's processes live outside the unit's cgroup: if systemd had to kill the
        // unit at its stop timeout, the container would live on without this.
        `ExecStopPost=${PODMAN} rm --force --ignore --time=0 ${containerName(spec)}`,
        "Restart=on-failure",
        `RestartSec=${CONTAINER_RESTART_SEC}`,
        `TimeoutStartSec=${CONTAINER_START_SEC}`,
      ]
    : [
        `ExecStart=${workloadCommand(spec)}`,
        "Restart=on-failure",
        "RestartSec=2",
        ...serverSandbox(spec),
      ];
  return [
    "# rendered by avfleet (modules/host); change the fleet spec, not this file.",
    "[Unit]",
    `Description=media server ${image ? `${image.shown} (container)` : `${workload.package} ${workload.version}`} (avfleet pool ${spec.pool})`,
    `After=network-online.target ${TUNE_UNIT} ${DRAIN_OUTLIVES[spec.kind].join(" ")}`,
    `Wants=network-online.target ${TUNE_UNIT}`,
    "",
    "[Service]",
    "Type=simple",
    `Environment=AVFLEET_ADMIN_PORT=${workload.adminPort}`,
    // "+": the check reads the host's nftables (CAP_NET_ADMIN) whatever user the server runs as
    // (systemd.service(5), ExecStart= prefixes).
    `ExecStartPre=+${SCRIPT_PATH} verify`,
    ...start,
    "KillSignal=SIGTERM",
    `TimeoutStopSec=${spec.drainSeconds + STOP_MARGIN_SEC}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/**
 * The targets a shutdown, reboot or halt starts. systemd 252 (Debian 12) ships poweroff.target
 * and reboot.target with JobTimeoutSec=30min and a forced JobTimeoutAction (later versions give
 * kexec.target one too): a shutdown drain longer than 30 minutes would be cut there, whatever
 * TimeoutStopSec says. Its halt.target and kexec.target have no deadline, and its
 * JobTimeoutAction= takes no halt or kexec action ("Failed to parse", systemd-analyze verify), so
 * their drop-in only sets the deadline: one that the units' own stop timeouts (the drain and a
 * margin) end before, and the room the drain needs should a later systemd give halt.target the
 * 30 minutes it gave kexec.target.
 */
export const SHUTDOWN_TARGETS = ["poweroff.target", "reboot.target", "kexec.target", "halt.target"];

/** The drop-in each shutdown target gets: room for the agent's drain, then the media server's stop. */
export function shutdownDropIn(drainSeconds: number): string {
  return [
    "# rendered by avfleet (modules/host): a shutdown waits for the agent's drain (systemd's",
    "# default 30 min would force the power-off and cut longer calls).",
    "[Unit]",
    `JobTimeoutSec=${drainSeconds + 2 * STOP_MARGIN_SEC}`,
    "",
  ].join("\n");
}

/** Where a target's drop-in goes. */
export function shutdownDropInPath(target: string): string {
  return `/etc/systemd/system/${target}.d/avfleet-drain.conf`;
}

export const FIREWALL_UNIT = "avfleet-firewall.service";
export const FIREWALL_PATH = "/etc/avfleet/firewall.nft";
/** The agent's own nftables table: nothing else of the host's ruleset is touched. */
export const FIREWALL_TABLE = "avfleet_agent";
export const NFT = "/usr/sbin/nft";

/** Who may reach a bare-metal host's agent port: the site's admin and monitoring networks. */
export function agentSources(spec: FleetSpec): string[] {
  const monitoring = spec.kind === "metal" ? (spec.monitoringCidrs ?? []) : [];
  return [...new Set([...spec.adminCidrs, ...monitoring])];
}

/**
 * A bare-metal host's firewall for its admin ports, which no cloud firewall guards there: the
 * agent's port only from agentSources (and loopback), the media server's admin port (the agent's
 * loopback contract) from nowhere else. A table of its own, replaced whole: `nft -f` applies a
 * file as one transaction, and the leading declare-then-delete makes a rerun replace the table
 * instead of failing or adding its rules twice
 * (https://wiki.nftables.org/wiki-nftables/index.php/Atomic_rule_replacement). A drop in any
 * base chain is final: no later chain of another table can accept the packet again (nft(8),
 * VERDICT STATEMENT, https://www.netfilter.org/projects/nftables/manpage.html), so a host's own
 * ruleset cannot reopen the port by mistake.
 */
export function agentFirewall(spec: FleetSpec): string {
  const sources = agentSources(spec);
  const v4 = sources.filter((c) => !c.includes(":"));
  const v6 = sources.filter((c) => c.includes(":"));
  const port = spec.ports.health.port;
  return [
    `#!${NFT} -f`,
    "# rendered by avfleet (modules/host); change the fleet spec, not this file.",
    `table inet ${FIREWALL_TABLE}`,
    `delete table inet ${FIREWALL_TABLE}`,
    `table inet ${FIREWALL_TABLE} {`,
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    '    iif "lo" accept',
    ...(v4.length ? [`    ip saddr { ${v4.join(", ")} } tcp dport ${port} accept`] : []),
    ...(v6.length ? [`    ip6 saddr { ${v6.join(", ")} } tcp dport ${port} accept`] : []),
    `    tcp dport { ${port}, ${spec.workload.adminPort} } drop`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/**
 * The unit that loads it at every boot before any network is up, as Debian's nftables.service
 * does (nftables 1.0.6, /lib/systemd/system/nftables.service), and after it: that service's
 * /etc/nftables.conf starts with `flush ruleset`, which would remove this table. Later runs of
 * that service flush it again: see nftablesDropIn.
 */
export function firewallUnit(): string {
  return [
    "# rendered by avfleet (modules/host); change the fleet spec, not this file.",
    "[Unit]",
    "Description=avfleet: only the site's admin and monitoring networks reach the agent's port",
    "DefaultDependencies=no",
    "Wants=network-pre.target",
    `Before=network-pre.target shutdown.target ${AGENT_UNIT}`,
    "After=nftables.service",
    "Conflicts=shutdown.target",
    "",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    `ExecStart=${NFT} -f ${FIREWALL_PATH}`,
    "",
    "[Install]",
    "WantedBy=sysinit.target",
    "",
  ].join("\n");
}

export const NFTABLES_DROP_IN = "/etc/systemd/system/nftables.service.d/avfleet.conf";

/**
 * Debian's nftables.service flushes every table, avfleet's included, whenever it runs: its
 * ExecStart and ExecReload apply /etc/nftables.conf, whose shipped first line is `flush
 * ruleset`, and its ExecStop is `nft flush ruleset` (nftables 1.0.6). It ships disabled, so an
 * operator's first `systemctl start nftables` on a live host is the likely case. This drop-in
 * puts avfleet's tables back after each: the tuning's notrack table (a tuning that no longer
 * verifies makes the host unhealthy) and, on bare metal, the agent's firewall. A drop-in's
 * ExecStartPost=, ExecReload= and ExecStopPost= lines add to the unit's own, after them
 * (systemd.unit(5), drop-ins; systemd.service(5):
 * https://www.freedesktop.org/software/systemd/man/latest/systemd.service.html). The tuning's
 * `apply` rewrites only what drifted, as every deploy does on a live host; its failure is left
 * to the agent's tuning check (`-`), the firewall's fails the service, loudly.
 */
export function nftablesDropIn(metal: boolean): string {
  const loads = [`-${SCRIPT_PATH} apply`, ...(metal ? [`${NFT} -f ${FIREWALL_PATH}`] : [])];
  return [
    "# rendered by avfleet (modules/host); change the fleet spec, not this file.",
    "[Service]",
    ...["ExecStartPost", "ExecReload", "ExecStopPost"].flatMap((key) =>
      loads.map((command) => `${key}=${command}`),
    ),
    "",
  ].join("\n");
}

/** How often root's tuning check runs (the agent's readiness follows its last verdict). */
export const TUNE_CHECK_EVERY_SEC = 300;

/**
 * The one root piece of the agent's work: `avfleet-tune verify` lists the tuning's nftables
 * table, which netlink refuses without CAP_NET_ADMIN. A oneshot that runs the root-owned agent
 * program in its --verify-tuning mode (the command comes from root's config, nothing the agent
 * writes) and leaves its verdict in TUNE_VERDICT_PATH; it holds that one capability in a
 * read-only system. RuntimeDirectoryPreserve=: without it the end of this oneshot would remove
 * /run/avfleet, the agent's own directory inside it included.
 */
export function tuneCheckUnit(): string {
  return [
    "# rendered by avfleet (modules/host); change the fleet spec, not this file.",
    "[Unit]",
    "Description=avfleet: check the host's tuning for the agent (root's part)",
    `After=${TUNE_UNIT}`,
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=/usr/bin/python3 ${AGENT_PATH} --verify-tuning ${AGENT_CONFIG_PATH}`,
    `RuntimeDirectory=${RUN_DIR.slice("/run/".length)}`,
    "RuntimeDirectoryPreserve=yes",
    // Not ProtectKernelTunables=: it makes /proc/sys and /sys read-only, and the check judges a
    // setting it cannot write "read-only", never drift — every sysctl and RPS/XPS row would
    // verify whatever its value (a reviewer reproduced it on net.core.rmem_max).
    ...HARDENING.filter((d) => d !== "ProtectKernelTunables=yes"),
    "CapabilityBoundingSet=CAP_NET_ADMIN",
    "",
  ].join("\n");
}

/**
 * Runs the check again every TUNE_CHECK_EVERY_SEC (systemd.timer(5), OnUnitActiveSec= counts
 * from the check's last start: https://www.freedesktop.org/software/systemd/man/latest/systemd.timer.html).
 */
export function tuneCheckTimer(): string {
  return [
    "# rendered by avfleet (modules/host); change the fleet spec, not this file.",
    "[Unit]",
    "Description=avfleet: check the host's tuning every few minutes",
    "",
    "[Timer]",
    "OnBootSec=1min",
    `OnUnitActiveSec=${TUNE_CHECK_EVERY_SEC}s`,
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}

/**
 * The agent's unit: restarted whatever way it ends, after the media server (so at a
 * shutdown it stops first, and drains the server before it lets the shutdown go on). On bare
 * metal it never listens without its firewall. It starts after a fresh tuning verdict.
 */
export function agentUnit(
  mediaUnit: string,
  drainSeconds: number,
  kind: FleetSpec["kind"],
): string {
  const firewall = kind === "metal";
  return [
    "# rendered by avfleet (modules/host); change the fleet spec, not this file.",
    "[Unit]",
    "Description=avfleet host agent: health check, media load, drain",
    // At a shutdown the agent asks `systemctl is-system-running`, as its own unprivileged user,
    // which goes over the system bus (only root reaches systemd's private socket,
    // systemd/systemd#3610): stopping before the bus keeps that answer from racing its stop.
    `After=network-online.target dbus.service ${TUNE_UNIT} ${TUNE_CHECK_UNIT} ${mediaUnit}${firewall ? ` ${FIREWALL_UNIT}` : ""}`,
    `After=${DRAIN_OUTLIVES[kind].join(" ")}`,
    // The tuning check wanted, not required: a failed check would fail the agent's start (no
    // Restart= retries a dependency's failure), its liveness would go, and the autohealer would
    // recreate the VM; the agent reports the check's verdict on readiness instead. The metal
    // firewall stays required: the agent never listens without it.
    `Wants=network-online.target ${TUNE_CHECK_TIMER} ${TUNE_CHECK_UNIT}`,
    ...(firewall ? [`Requires=${FIREWALL_UNIT}`] : []),
    // Never given up on: past systemd's default start limit (5 starts in 10 s,
    // DefaultStartLimitBurst=/DefaultStartLimitIntervalSec=, systemd-system.conf(5)) a service
    // "is not restarted anymore" (systemd.service(5), Restart=), and a host whose agent is down
    // fails its liveness check: the MIG's autohealer would recreate it with its calls. 0 turns
    // the limit off (systemd.unit(5), StartLimitIntervalSec=).
    "StartLimitIntervalSec=0",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=/usr/bin/python3 ${AGENT_PATH} ${AGENT_CONFIG_PATH}`,
    // A user of its own with no capability (its port is >= 1024, fleet.schema; `ethtool -S`
    // and `systemctl is-system-running` need none) that writes only its own directories: not
    // /var/lib/avfleet, where root's payload and drain requests live. DynamicUser= moves an
    // existing /var/lib/avfleet/agent under /var/lib/private and chowns it at start (systemd.exec(5),
    // https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html#DynamicUser=).
    "DynamicUser=yes",
    `StateDirectory=${AGENT_STATE_DIR.slice("/var/lib/".length)}`,
    `RuntimeDirectory=${AGENT_RUN_DIR.slice("/run/".length)}`,
    "RuntimeDirectoryPreserve=yes",
    ...HARDENING,
    "CapabilityBoundingSet=",
    "Restart=always",
    "RestartSec=2",
    "# At a shutdown the agent drains before it exits (the media server stops after it).",
    `TimeoutStopSec=${drainSeconds + STOP_MARGIN_SEC}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}
