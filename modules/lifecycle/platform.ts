/**
 * A platform as the lifecycle scenarios drive it: the actors that run on their own (the agent,
 * an autohealer, a controller) and the events a scenario sets off. Each provider's module
 * builds one from a rendered pool; an event a platform does not have is a scenario it skips.
 */
import type { Actor, SimHost, World } from "./world";

export interface Platform {
  /** The failure domains hosts spread over (a site is one). */
  zones: string[];
  actors: Actor[];
  /** The pool shrinks by one host, the way its autoscaling does it. */
  scaleIn?(w: World): void;
  /** An operator takes one host out (a metadata mark, a terminate call, the inventory). */
  operatorDrain?(w: World, host: SimHost): void;
  /** The hosts' template changes (a new media server, agent or tuning). */
  templateChange?(w: World): void;
  /** A change of labels or tags alone. */
  labelChange?(w: World): void;
  /** The drain time (or its hook) changes in the stack: what does the next up replace? */
  drainSettingChange?(w: World): void;
  /** A zone lost its hosts and came back: what rebalances? */
  zoneRecovered?(w: World): void;
  /** The provider's host maintenance on one host. */
  hostMaintenance?(w: World, host: SimHost): void;
  /** The provider reclaims a host's capacity, or its run time is up (Spot, preemptible, limits). */
  reclaim?(w: World, host: SimHost): void;
  /** The host crashes (kernel panic, hardware). */
  crash?(w: World, host: SimHost): void;
  /** The pool grows by one host whose first boot is slow (see BOOT). */
  scaleOutSlowBoot?(w: World): void;
  /** A serving host's readiness fails (its tuning drifted): what happens to its calls? */
  readinessLost?(w: World, host: SimHost): void;
  /**
   * A release's rollout takes a batch through the pool's drain path and has the provider replace
   * it (modules/release/cloud-rollout.ts), after the up that pointed the group at the release.
   */
  rolloutBatch?(w: World, hosts: SimHost[]): void;
}
