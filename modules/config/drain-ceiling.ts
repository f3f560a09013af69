/**
 * How long a GCP or bare-metal host may drain (#28). Neither platform ends a drain of its own
 * accord. A GCP host leaves through its pool's scale-in controller, which deletes the VM once
 * the agent says the drain is done, or drainSeconds + 300 s after the mark
 * (modules/gcp-scale-in/controller.py `expired_marks`); nothing else we declare deletes or
 * stops a draining VM, and the ways Google could (autohealing, updates, the standby pool, host
 * maintenance, preemption, graceful shutdown) are each checked in docs/real-path.md, "GCP and
 * bare-metal drains past two hours", and modules/providers/gcp.ts. A bare-metal host leaves
 * when its operator retires it; its drain request only asks the agent to drain.
 *
 * So the bound is ours: two days, the span AWS's drain hook holds at most (its global
 * timeout), so that a stack's drain means the same on every platform, and a value typed in
 * minutes or milliseconds is refused instead of holding hosts, and the MIG slots they fill, for
 * weeks.
 */
export const DRAIN_CEILING_SEC = 48 * 3600;
