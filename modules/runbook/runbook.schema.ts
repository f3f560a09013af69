/**
 * JSON Schema of a migration runbook (`runbooks/<media-region>.yaml`): one region's move from
 * a source pool to a target pool as an ordered list of steps. The single source of truth: the
 * TypeScript types follow from it and so do the loader's errors.
 */
import type { FromSchema } from "json-schema-to-ts";
import { COMPARE_DEFAULTS } from "../gates/compare";
import { DURATION_PATTERN } from "../inputs/duration";
import { SLO_NAMES, type SloName } from "../gates/slo";

const stackName = {
  type: "string",
  pattern: "^[a-z0-9][a-z0-9-]*$",
  description: "a stack name (stacks/Pulumi.<name>.yaml)",
} as const;

/**
 * A duration with the range that means something for it (docs/reference/stacks-and-inputs.md,
 * "Reading inputs").
 */
const duration = <const Min extends string, const Max extends string>(
  description: string,
  min: Min,
  max: Max,
) =>
  ({
    type: "string",
    pattern: DURATION_PATTERN,
    durationRange: { min, max },
    description: `${description}: a duration like 30s, 10m or 2h`,
  }) as const;

/**
 * What a gate's threshold (in the SLO's unit) and relative effect floor (a share of the
 * source's mean) may be, per SLO: a bound a healthy pool could never breach (a loss ceiling of
 * 5 = 500 %, a negative jitter bound, a join-success floor of 0) would make the gate unable to
 * fail; a floor of 0 would never let equal pools pass (the sequential test can only tell a
 * difference from the floor), and one past the ceiling would let a pool twice as bad (for
 * join success: a rate 5 % lower) through.
 */
const GATE_BOUNDS = {
  "packet-loss": {
    threshold: {
      exclusiveMinimum: 0,
      maximum: 0.2,
      description: "a packet-loss ceiling: a ratio like 0.01 (1 %)",
    },
    effectFloor: {
      exclusiveMinimum: 0,
      maximum: 1,
      description: "a worsening as a share of the source's loss ratio, like 0.5 (+50 %)",
    },
  },
  "jitter-p95": {
    threshold: {
      exclusiveMinimum: 0,
      maximum: 1,
      description: "a jitter p95 ceiling in seconds, like 0.03",
    },
    effectFloor: {
      exclusiveMinimum: 0,
      maximum: 1,
      description: "a worsening as a share of the source's jitter p95, like 0.5 (+50 %)",
    },
  },
  "rtt-p95": {
    threshold: {
      exclusiveMinimum: 0,
      maximum: 2,
      description: "an RTT p95 ceiling in seconds, like 0.25",
    },
    effectFloor: {
      exclusiveMinimum: 0,
      maximum: 1,
      description: "a worsening as a share of the source's RTT p95, like 0.25 (+25 %)",
    },
  },
  "join-success": {
    threshold: {
      exclusiveMinimum: 0.5,
      exclusiveMaximum: 1,
      description: "a join-success floor: a ratio like 0.995",
    },
    effectFloor: {
      exclusiveMinimum: 0,
      maximum: 0.05,
      description: "a drop as a share of the source's join-success ratio, like 0.002 (−0.2 %)",
    },
  },
} as const satisfies Record<SloName, unknown>;

const gateBounds = <const S extends SloName>(slo: S) =>
  ({
    if: { required: ["slo"], properties: { slo: { const: slo } } },
    then: {
      properties: {
        threshold: { type: "number", ...GATE_BOUNDS[slo].threshold },
        effectFloor: { type: "number", ...GATE_BOUNDS[slo].effectFloor },
      },
    },
  }) as const;

const gateSchema = {
  type: "object",
  description:
    "a gate {slo, pool?, threshold?, critical?, minSamples?}, or a relative one {slo, compare: source, confidence?, effectFloor?, critical?, minSamples?}",
  required: ["slo"],
  additionalProperties: false,
  // A relative gate's samples are session-minutes: it needs far more of them than an
  // absolute gate needs scrape intervals.
  if: { required: ["compare"] },
  then: {
    properties: {
      minSamples: { default: COMPARE_DEFAULTS.minSamples },
      confidence: { default: COMPARE_DEFAULTS.confidence },
    },
  },
  allOf: [
    gateBounds("packet-loss"),
    gateBounds("jitter-p95"),
    gateBounds("rtt-p95"),
    gateBounds("join-success"),
  ],
  properties: {
    compare: {
      const: "source",
      description:
        "source (judge the target against the source pool over the window since the weight change — a sequential test against a floor relative to the source's mean — instead of against the SLO's threshold; pool and threshold do not apply)",
    },
    confidence: {
      type: "number",
      exclusiveMinimum: 0.5,
      exclusiveMaximum: 1,
      description:
        "a relative gate's confidence over the whole bake, like 0.99 (between 0.5 and 1)",
    },
    effectFloor: {
      type: "number",
      exclusiveMinimum: 0,
      description:
        "the smallest worsening of the target's mean a relative gate fails on, as a share of the source's mean",
    },
    slo: { type: "string", enum: SLO_NAMES, description: `one of ${SLO_NAMES.join(" | ")}` },
    pool: {
      type: "string",
      enum: ["target", "source"],
      default: "target",
      description: "the pool the gate watches: target | source",
    },
    threshold: {
      type: "number",
      description: "a number overriding the SLO's threshold (same unit as the SLO)",
    },
    critical: {
      type: "boolean",
      default: true,
      description: "true (a breach rolls back at once) or false (a breach holds for a human)",
    },
    minSamples: {
      type: "integer",
      minimum: 1,
      maximum: 10000,
      default: 3,
      description: "the fewest samples a verdict needs",
    },
  },
} as const;

const kind = <K extends string>(name: K) => ({ const: name }) as const;

const preflightStep = {
  type: "object",
  required: ["kind"],
  additionalProperties: false,
  properties: { kind: kind("preflight"), name: { type: "string" } },
} as const;

const scaleStep = {
  type: "object",
  required: ["kind", "minHosts"],
  additionalProperties: false,
  properties: {
    kind: kind("scale"),
    name: { type: "string" },
    minHosts: {
      type: "integer",
      minimum: 1,
      maximum: 5000,
      description: "the target pool's host floor before traffic moves, 1–5000",
    },
    healthyWithin: {
      ...duration("how long hosts may take to turn healthy", "10s", "6h"),
      default: "15m",
    },
  },
} as const;

const shiftStep = {
  type: "object",
  required: ["kind", "weights", "bake", "gates"],
  additionalProperties: false,
  properties: {
    kind: kind("shift"),
    name: { type: "string" },
    weights: {
      type: "array",
      minItems: 1,
      maxItems: 100,
      description: "the target pool's weights in order, like [1, 5, 25, 50, 75, 100]",
      items: { type: "integer", minimum: 1, maximum: 100, description: "a weight in 1–100" },
    },
    bake: duration("how long each weight bakes before its gates decide", "5s", "24h"),
    maxBake: duration(
      "how far an inconclusive bake may extend before holding for a human (default: twice bake)",
      "5s",
      "24h",
    ),
    interval: {
      ...duration("how often gates are evaluated during a bake", "1s", "1h"),
      default: "1m",
    },
    gates: {
      type: "array",
      minItems: 1,
      maxItems: 32,
      description: "a non-empty list of gates (a shift without gates is refused)",
      items: gateSchema,
    },
  },
} as const;

const drainStep = {
  type: "object",
  required: ["kind", "belowSessions", "maxWait"],
  additionalProperties: false,
  properties: {
    kind: kind("drain"),
    name: { type: "string" },
    belowSessions: {
      type: "integer",
      minimum: 0,
      description: "the source's active sessions under which it counts as drained",
    },
    maxWait: duration("the longest the drain waits", "1m", "48h"),
    interval: { ...duration("how often the drain polls", "1s", "1h"), default: "5m" },
  },
} as const;

const approveStep = {
  type: "object",
  required: ["kind"],
  additionalProperties: false,
  properties: {
    kind: kind("approve"),
    name: { type: "string" },
    reason: { type: "string", description: "what the approver is asked to confirm" },
    expiresAfter: duration("how long an approval stays valid", "1m", "168h"),
  },
} as const;

const decommissionStep = {
  type: "object",
  required: ["kind"],
  additionalProperties: false,
  properties: { kind: kind("decommission"), name: { type: "string" } },
} as const;

const waitStep = {
  type: "object",
  required: ["kind", "duration"],
  additionalProperties: false,
  properties: {
    kind: kind("wait"),
    name: { type: "string" },
    duration: duration("how long to wait", "1s", "24h"),
  },
} as const;

export const STEP_KINDS = [
  "preflight",
  "scale",
  "shift",
  "drain",
  "approve",
  "decommission",
  "wait",
] as const;

/**
 * What a runbook without `raiseFloor` gets. The schema fills no default object for it: a
 * runbook's hash covers its defaults, so one would make every journal begun before #28 refuse
 * to resume ("has changed since its journal's run").
 */
export const RAISE_FLOOR_DEFAULTS = { enabled: true, healthyWithin: "15m" } as const;

export const runbookSchema = {
  type: "object",
  description: "a runbook mapping {region, traffic, source, target, steps}",
  required: ["region", "traffic", "source", "target", "steps"],
  additionalProperties: false,
  properties: {
    region: {
      type: "string",
      pattern: "^[a-z]+(-[a-z0-9]+)*$",
      description: "a media region name like us-west",
    },
    traffic: stackName,
    source: stackName,
    target: stackName,
    approvalsExpireAfter: {
      ...duration("how long an approval stays valid", "1m", "168h"),
      default: "4h",
    },
    approvers: {
      type: "object",
      additionalProperties: false,
      description:
        "who may approve, judged by the identity the state backend authenticated (the OS user locally, PostgreSQL's session_user when shared), never by --by: {group, distinctFromStarter}",
      properties: {
        group: {
          type: "string",
          pattern: "^[A-Za-z_][A-Za-z0-9_.-]{0,62}$",
          description:
            "an OS group (local state) or PostgreSQL role (shared state, pg_has_role MEMBER) the approver must belong to",
        },
        distinctFromStarter: {
          type: "boolean",
          description:
            "true: refuse an approval from the identity that started the run being approved (four eyes)",
        },
      },
    },
    raiseFloor: {
      type: "object",
      additionalProperties: false,
      description:
        "before a weight change moves joins to a cloud pool, raise its minHosts to what its new share of the region's peak needs (headroom and N+1 included) and wait until that many hosts are healthy: {enabled, healthyWithin}; absent: enabled, 15m",
      properties: {
        enabled: {
          type: "boolean",
          default: RAISE_FLOOR_DEFAULTS.enabled,
          description:
            "false: move weights onto whatever hosts the receiving pools have (their autoscalers catch up a boot later, refusing joins meanwhile)",
        },
        healthyWithin: {
          ...duration(
            "how long the raised hosts may take to turn healthy: a slowest boot",
            "10s",
            "6h",
          ),
          default: RAISE_FLOOR_DEFAULTS.healthyWithin,
        },
      },
    },
    steps: {
      type: "array",
      minItems: 1,
      maxItems: 200,
      description: "a non-empty list of at most 200 steps",
      items: {
        type: "object",
        description: `a step with kind one of ${STEP_KINDS.join(" | ")}`,
        required: ["kind"],
        discriminator: { propertyName: "kind" },
        oneOf: [
          preflightStep,
          scaleStep,
          shiftStep,
          drainStep,
          approveStep,
          decommissionStep,
          waitStep,
        ],
      },
    },
  },
} as const;

export type Runbook = FromSchema<typeof runbookSchema>;
export type RunbookStep = Runbook["steps"][number];
export type ShiftStep = Extract<RunbookStep, { kind: "shift" }>;
export type Gate = ShiftStep["gates"][number];
