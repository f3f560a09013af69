/**
 * What systemd does to a host's services at a shutdown, a stop or a crash, as systemd and
 * Debian 12 (systemd 252) ship it.
 */
import type { ProviderRule } from "./rule";

export const SHUTDOWN_JOB_TIMEOUT: ProviderRule = {
  id: "systemd.shutdown-job-timeout",
  says:
    "poweroff.target and reboot.target carry JobTimeoutSec=30min with JobTimeoutAction=" +
    "poweroff-force / reboot-force (later versions give kexec.target the same): a shutdown still " +
    "waiting on stop jobs after 30 minutes is forced, whatever the units' TimeoutStopSec; a " +
    "drop-in setting JobTimeoutSec changes it",
  source:
    "systemd/systemd-stable v252 units/poweroff.target:17-18, units/reboot.target:17-18 " +
    "(Debian 12: /usr/lib/systemd/system/poweroff.target)",
};

/** The shutdown's own deadline: 30 min unless a drop-in sets the targets' JobTimeoutSec. */
export const DEFAULT_SHUTDOWN_JOB_TIMEOUT_SEC = 1800;

/** JobTimeoutSec= of a [Unit] section (seconds; `30min` style units understood). */
export function jobTimeoutSec(dropIn: string | undefined): number {
  const m = /^JobTimeoutSec=(.+)$/m.exec(dropIn ?? "");
  return m ? seconds(m[1]) : DEFAULT_SHUTDOWN_JOB_TIMEOUT_SEC;
}

export const TIMEOUT_STOP: ProviderRule = {
  id: "systemd.timeout-stop",
  says:
    "Stopping a service sends KillSignal (SIGTERM) and, when it has not exited within " +
    "TimeoutStopSec, SIGKILL; at a shutdown, units stop in reverse order of After=",
  source:
    "https://www.freedesktop.org/software/systemd/man/252/systemd.service.html#TimeoutStopSec=",
};

export function timeoutStopSec(unit: string): number {
  const m = /^TimeoutStopSec=(.+)$/m.exec(unit);
  return m ? seconds(m[1]) : 90;
}

export const RESTART: ProviderRule = {
  id: "systemd.restart",
  says:
    "A service with Restart=always (or on-failure, for a signal) that dies, kill -9 included, is " +
    "started again after RestartSec",
  source: "https://www.freedesktop.org/software/systemd/man/252/systemd.service.html#Restart=",
};

/** Seconds until systemd starts a killed service again; undefined when it does not. */
export function restartAfterKill(unit: string): number | undefined {
  const restart = /^Restart=(.+)$/m.exec(unit)?.[1];
  if (restart !== "always" && restart !== "on-failure" && restart !== "on-abnormal")
    return undefined;
  const m = /^RestartSec=(.+)$/m.exec(unit);
  return m ? seconds(m[1]) : 0.1;
}

/** systemd.time(7) spans: `90`, `30min`, `1h 30min`, `2s`. */
export function seconds(span: string): number {
  const units: Record<string, number> = { s: 1, sec: 1, min: 60, m: 60, h: 3600, hr: 3600 };
  let total = 0;
  for (const [, n, unit] of span.trim().matchAll(/(\d+(?:\.\d+)?)\s*([a-z]*)/g)) {
    total += Number(n) * (unit ? (units[unit] ?? NaN) : 1);
  }
  return total;
}

export const SYSTEMD_RULES = [SHUTDOWN_JOB_TIMEOUT, TIMEOUT_STOP, RESTART];
