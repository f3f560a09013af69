/**
 * A bare-metal site: no provider removes a host. The inventory's `draining` reaches the host as
 * a changed payload (remote.Command runs its create again over SSH), whose drain request the
 * agent acts on; a crashed host reboots where it stands.
 */
import { RERUN } from "../providers/command";
import { agent, crash } from "./host";
import type { Platform } from "./platform";
import type { RenderedPool } from "./rendered";

export function metalPlatform(_pool: RenderedPool): Platform {
  return {
    zones: ["site"],
    // A drained host stays up serving nothing until the inventory retires it.
    actors: [agent(() => true)],
    operatorDrain(w, host) {
      w.cite(RERUN, true);
      host.drainRequested = "inventory state draining (payload run again)";
    },
    crash(w, host) {
      crash(w, host);
    },
  };
}
