/**
 * A bare-metal site: no provider removes a host. The inventory's `draining` (or a rollout's
 * draining batch) reaches the host as a new local.Command, whose create runs ssh to the host and
 * hands the agent a drain request; a crashed host reboots where it stands.
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
      host.drainRequested = "inventory state draining (its drain command created)";
    },
    crash(w, host) {
      crash(w, host);
    },
  };
}
