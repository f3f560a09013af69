/**
 * The two systemd units a media host runs besides the tuning: the media server (the
 * workload) and the host agent. Pure renders.
 */
import type { FleetSpec } from "../config/fleet.schema";
import { BOOT_UNIT as TUNE_UNIT, SCRIPT_PATH } from "../tuning/settings";

export { TUNE_UNIT };
export const AGENT_UNIT = "avfleet-agent.service";
export const AGENT_PATH = "/usr/local/sbin/avfleet-agent";
export const AGENT_CONFIG_PATH = "/etc/avfleet/agent.json";
/** Where the agent keeps its drain state, and where a drain is requested on bare metal. */
export const STATE_DIR = "/var/lib/avfleet";
/** *.prom files here are served on the agent's /metrics (the node-exporter textfile idea). */
export const TEXTFILE_DIR = "/var/lib/avfleet/textfile";

/** Seconds systemd gives the media server beyond the drain before it kills what is left. */
export const STOP_MARGIN_SEC = 60;

export function workloadCommand(spec: FleetSpec): string {
  return spec.workload.command ?? `/usr/bin/${spec.workload.package}`;
}

/**
 * The media server's unit. It never starts before the tuning is applied and verifies
 * (Requires= + After= the tuning unit, and verify again as ExecStartPre: a oneshot that
 * drifted still counts as started). A stop waits out the whole drain.
 */
export function workloadUnit(spec: FleetSpec): string {
  const { workload } = spec;
  return [
    "# rendered by avfleet (modules/host); change the fleet spec, not this file.",
    "[Unit]",
    `Description=media server ${workload.package} ${workload.version} (avfleet pool ${spec.pool})`,
    `Requires=${TUNE_UNIT}`,
    `After=network-online.target ${TUNE_UNIT}`,
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `Environment=AVFLEET_ADMIN_PORT=${workload.adminPort}`,
    `ExecStartPre=${SCRIPT_PATH} verify`,
    `ExecStart=${workloadCommand(spec)}`,
    "Restart=on-failure",
    "RestartSec=2",
    "KillSignal=SIGTERM",
    `TimeoutStopSec=${spec.drainSeconds + STOP_MARGIN_SEC}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/**
 * The agent's unit: restarted whatever way it ends, after the media server (so at a
 * shutdown it stops first, and drains the server before it lets the shutdown go on).
 */
export function agentUnit(mediaUnit: string, drainSeconds: number): string {
  return [
    "# rendered by avfleet (modules/host); change the fleet spec, not this file.",
    "[Unit]",
    "Description=avfleet host agent: health check, media load, drain",
    `After=network-online.target ${TUNE_UNIT} ${mediaUnit}`,
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=/usr/bin/python3 ${AGENT_PATH} ${AGENT_CONFIG_PATH}`,
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
