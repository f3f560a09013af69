/**
 * What happens on the host itself, whatever the platform: the rendered agent drains (its
 * interval, its drain limit), systemd restarts what is killed and bounds a shutdown, a crashed
 * host reboots. The platform's side of a drain's end is the `complete` each provider passes.
 */
import {
  RESTART,
  restartAfterKill,
  SHUTDOWN_JOB_TIMEOUT,
  jobTimeoutSec,
  TIMEOUT_STOP,
  timeoutStopSec,
} from "../providers/systemd";
import type { RenderedPool } from "./rendered";
import type { Actor, SimHost, World } from "./world";

/** Scenario assumptions, not provider rules: how long this fleet's hosts take to come up. */
export const BOOT = {
  /** Kernel and systemd to the startup scripts. */
  osSec: 40,
  /** The bootstrap again on a host that has its packages: files, tuning, units. */
  rerunSec: 20,
  /** A first boot's package install (the media server, podman). */
  installSec: 240,
  /** A container pool's image pull on a cold host: slow, within the unit's start timeout. */
  pullSec: 540,
};

export const AGENT_UNIT_FILE = "/etc/systemd/system/avfleet-agent.service";

/** Seconds from a VM's creation to its agent answering: install, pull (container pools), start. */
export function firstBootSec(pool: RenderedPool): number {
  const pulls = [...pool.files.values()].some((f) => f.includes(" --pull "));
  return BOOT.osSec + BOOT.installSec + (pulls ? BOOT.pullSec : 0) + BOOT.rerunSec;
}

export function rebootSec(): number {
  return BOOT.osSec + BOOT.rerunSec;
}

/** What the platform does when the agent says the drain is over: true once it took it. */
export type Complete = (world: World, host: SimHost) => boolean;

/**
 * The rendered agent, every intervalSec: a requested drain starts; a drain ends at zero calls
 * or its limit, and the agent tells the platform (again each tick until the platform takes it,
 * unless the agent counted a refusal as done).
 */
export function agent(complete: Complete): Actor {
  return (w) => {
    if (w.t % Math.max(1, w.pool.agent.intervalSec) !== 0) return;
    for (const h of w.live()) {
      if (w.state(h) === undefined) continue;
      if (h.drainRequested && !h.drain) w.startDrain(h, h.drainRequested);
      const drain = h.drain;
      if (!drain || drain.completedAt !== undefined || drain.acceptedAt !== undefined) continue;
      if (w.sessions(h) === 0 || w.t >= drain.deadline) {
        if (complete(w, h)) w.accept(h);
      }
    }
  };
}

/** kill -9 of the agent: nothing answers until systemd starts it again. */
export function killAgent(w: World, host: SimHost): void {
  const unit = w.pool.files.get(AGENT_UNIT_FILE) ?? "";
  const after = w.cite(RESTART, restartAfterKill(unit));
  // Without a restart the agent stays down for good.
  host.agentDownUntil = after === undefined ? Infinity : w.t + Math.ceil(after) + 1;
  w.say(
    `${host.name}: agent killed (kill -9); back ${after === undefined ? "never" : `in ${Math.ceil(after) + 1} s`}`,
  );
}

/**
 * The agent hangs (a deadlock, a stuck call): its process still runs, so systemd restarts
 * nothing (Restart= acts on an exit), and it answers, beats and completes nothing from now on.
 */
export function hangAgent(w: World, host: SimHost): void {
  host.agentDownUntil = Infinity;
  w.say(`${host.name}: agent hangs for good (${w.sessions(host)} call(s) on the host)`);
}

/** The host crashes: its calls are lost, it reboots (where its platform restarts it). */
export function crash(w: World, host: SimHost): void {
  const lost = w.sessions(host);
  w.outcome.callsLostToFault += lost;
  host.calls = [];
  host.upAt = w.t + rebootSec();
  host.failed = true;
  w.say(`${host.name} crashes: ${lost} call(s) lost; it reboots`);
}

/**
 * Someone runs `systemctl reboot` on a host with calls: the agent drains at the shutdown (its
 * unit stops first), the shutdown waits for it up to the agent's TimeoutStopSec and the
 * shutdown target's own job timeout, then the host goes down; it serves again after the boot.
 */
export function rebootInGuest(w: World, host: SimHost): void {
  const unit = w.pool.files.get(AGENT_UNIT_FILE) ?? "";
  const dropIn = w.pool.files.get("/etc/systemd/system/reboot.target.d/avfleet-drain.conf");
  const limit = Math.min(
    w.cite(TIMEOUT_STOP, timeoutStopSec(unit)),
    w.cite(SHUTDOWN_JOB_TIMEOUT, jobTimeoutSec(dropIn)),
  );
  w.startDrain(host, "shutdown");
  // The agent lets the shutdown go on at zero calls, or at its drain limit.
  const lastEnd = Math.max(w.t, ...host.calls);
  const drained = lastEnd <= host.drain!.deadline ? lastEnd : host.drain!.deadline;
  const down = Math.min(w.t + limit, drained);
  // The host powers off and comes back: its calls are judged at the power-off.
  const calls = host.calls.filter((end) => end > down).length;
  if (calls) {
    if (down >= host.drain!.deadline) w.outcome.callsCutAtLimit += calls;
    else w.outcome.callsCut += calls;
  }
  const when = down >= host.drain!.deadline ? "at the drain limit" : "before the drain limit";
  w.say(
    `${host.name} reboots: down at +${down - w.t} s (shutdown limit ${limit} s)${calls ? `, ${calls} call(s) ended ${when}` : ""}`,
  );
  host.calls = host.calls.map((end) => Math.min(end, down));
  // The shutdown itself tells the platform: nothing is kept past the limit.
  w.accept(host);
  host.reboot = { down, up: down + rebootSec() };
}

/** The pool's hosts: two per zone, each with a few calls of different lengths, one long. */
export function seed(w: World, zones: string[], longCallSec: number): void {
  zones.forEach((zone, z) => {
    for (let k = 0; k < 2; k++) {
      const i = 2 * z + k;
      const calls = [90, 240 + 20 * i, 600 + 30 * i, 1200 + 60 * i];
      if (i === 0) calls.push(longCallSec);
      // One quiet host: its calls end within a few minutes (what scale-in picks first).
      // Serving for a day: past every provider's grace after creation.
      w.addHost(zone, i === 5 ? [60, 120] : calls, { createdAt: -86400, upAt: -86400 + 600 });
    }
  });
}
