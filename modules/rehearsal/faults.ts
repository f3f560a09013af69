/**
 * The faults a rehearsal can inject (`--fault`), each active from the moment the target pool
 * reaches a weight: what the world does with them is in world.ts.
 */
export interface Fault {
  spec: string;
  kind: "target-loss" | "metrics-outage" | "up-fail" | "concurrent-up";
  /** The target's weight from which the fault is active. */
  atWeight: number;
  /** target-loss: the packet loss it causes, in percent. */
  pct?: number;
  /** concurrent-up: whose lock the other update holds (what the CLI then says). */
  backend?: Backend;
}

/** A Pulumi state backend as the CLI tells them apart: Pulumi Cloud, or DIY (a bucket, a file). */
export type Backend = "diy" | "cloud";

const FAULT =
  /^(?:(target-loss)=(\d+(?:\.\d+)?)|(metrics-outage)|(up-fail)|(concurrent-up)=(diy|cloud))@(\d{1,3})$/;
export const FAULT_HELP =
  "target-loss=<pct>@<weight> | metrics-outage@<weight> | up-fail@<weight> | concurrent-up=<diy|cloud>@<weight>";
/** What each fault does, with units, for --help. */
export const FAULT_UNITS = `                     <weight>: the target pool's traffic weight, 0-100 (percent of new
                     joins); a fault is active from the moment the target reaches it,
                     including a weight it already has when the rehearsal starts
                     target-loss=<pct>: the target loses <pct> percent of packets (3 = 3 %)
                     metrics-outage: every metrics query fails (HTTP 503); the run holds
                     after 5 failed queries in a row, as a real run does
                     up-fail: pulumi up fails for any weight change to <weight> or above
                     concurrent-up=diy|cloud: a teammate's pulumi up, from a checkout
                     without the migration's stack file, holds the traffic stack for
                     90 s when the change to <weight> starts; the executor's up meets
                     the DIY lock file or Pulumi Cloud's 409 meanwhile`;

/** Parses `--fault` specs; undefined for a malformed one. */
export function parseFault(spec: string): Fault | undefined {
  const m = FAULT.exec(spec);
  if (!m || Number(m[7]) > 100) return undefined;
  const kind = (m[1] ?? m[3] ?? m[4] ?? m[5]) as Fault["kind"];
  return {
    spec,
    kind,
    atWeight: Number(m[7]),
    ...(m[2] ? { pct: Number(m[2]) } : {}),
    ...(m[6] ? { backend: m[6] as Backend } : {}),
  };
}
