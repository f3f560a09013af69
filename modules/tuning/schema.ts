/**
 * Host facts: what the tuning of one media host is computed from. The JSON Schema is the
 * single source of truth (HostFacts follows from it); its string patterns are tight
 * because every value ends up in a root shell script.
 */
import type { FromSchema } from "json-schema-to-ts";
import { assertNoProblems, type Problem } from "../inputs/problems";
import { documentProblems, loadInput, type InputFormat } from "../inputs/validate";
import { interfacesSchema } from "../inventory/inventory";
import { parseCpuList } from "./cpus";
import { DEFAULT_EPHEMERAL, ephemeralPorts, MIN_EPHEMERAL_PORTS, size } from "./ports";
import { bufferBytes } from "./rule";

const count = (what: string, maximum: number) =>
  ({ type: "integer", minimum: 1, maximum, description: what }) as const;

export const hostFactsSchema = {
  type: "object",
  description: "a mapping of host facts",
  required: [
    "cores",
    "nicDriver",
    "rxQueues",
    "txQueues",
    "packetsPerSecond",
    "stallMs",
    "mediaUdpPorts",
    "mediaWorkerCpus",
    "mediaUnit",
  ],
  additionalProperties: false,
  properties: {
    cores: count("the host's CPU count, an integer", 4096),
    nicDriver: {
      type: "string",
      pattern: "^[a-z][a-z0-9_]{0,31}$",
      description: "a kernel NIC driver name like gve, ena, mlx5_core or ice",
    },
    rxQueues: count("the RX queues one NIC has, an integer", 1024),
    txQueues: count("the TX queues one NIC has, an integer", 1024),
    packetsPerSecond: count("the media packets per second one host receives, an integer", 1e8),
    stallMs: {
      type: "number",
      exclusiveMinimum: 0,
      maximum: 1000,
      description: "the worst receiver stall to absorb, in ms",
    },
    mediaUdpPorts: {
      type: "object",
      description: "a mapping {from, to} of UDP ports",
      required: ["from", "to"],
      additionalProperties: false,
      properties: {
        from: {
          type: "integer",
          minimum: 1024,
          maximum: 65535,
          description: "a port in 1024–65535",
        },
        to: { type: "integer", minimum: 1024, maximum: 65535, description: "a port in 1024–65535" },
      },
    },
    mediaWorkerCpus: {
      type: "string",
      pattern: "^[0-9]{1,4}(-[0-9]{1,4})?(,[0-9]{1,4}(-[0-9]{1,4})?)*$",
      description: "a CPU list like 2-15,18-31",
    },
    mediaUnit: {
      type: "string",
      pattern: "^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}\\.service$",
      description: "a systemd service name like sfu.service",
    },
    unprivilegedPortStart: {
      type: "integer",
      minimum: 1,
      maximum: 1023,
      description:
        "the lowest port any process may bind without CAP_NET_BIND_SERVICE (net.ipv4.ip_unprivileged_port_start), for a server in a user namespace that binds a port below 1024; default: the kernel's 1024",
    },
    interfaces: interfacesSchema,
  },
} as const;

export type HostFacts = FromSchema<typeof hostFactsSchema>;

export const HOST_FACTS_EXPECTED = "a host facts mapping (see modules/tuning/examples)";

/** The largest socket buffer the rule may ask for: sysctl buffer keys are C ints. */
export const MAX_BUFFER_BYTES = 1 << 30;

/**
 * What a schema cannot say about facts: port order, ephemeral ports left, worker CPUs that
 * exist and leave CPUs for interrupts, a sane buffer.
 */
function factsSemanticProblems(facts: HostFacts): Problem[] {
  const problems: Problem[] = [];
  if (facts.mediaUdpPorts.from > facts.mediaUdpPorts.to) {
    problems.push({
      path: ["mediaUdpPorts", "to"],
      message: `is ${facts.mediaUdpPorts.to}, below from (${facts.mediaUdpPorts.from})`,
      expected: "a port ≥ from",
    });
  }
  const ephemeral = ephemeralPorts(facts.mediaUdpPorts);
  if (
    facts.mediaUdpPorts.from <= facts.mediaUdpPorts.to &&
    ephemeral &&
    size(ephemeral) < MIN_EPHEMERAL_PORTS
  ) {
    problems.push({
      path: ["mediaUdpPorts"],
      message: `leaves ${size(ephemeral)} ports for outgoing connections`,
      expected: `a range that leaves at least ${MIN_EPHEMERAL_PORTS} ports above ${DEFAULT_EPHEMERAL.from - 1} free`,
    });
  }
  const ranges = facts.mediaWorkerCpus.split(",").map((r) => r.split("-").map(Number));
  if (ranges.some(([from, to = from]) => from > to)) {
    problems.push({
      path: ["mediaWorkerCpus"],
      message: `has a descending range in ${JSON.stringify(facts.mediaWorkerCpus)}`,
      expected: "ranges written low-high, like 2-15",
    });
  } else {
    const workers = parseCpuList(facts.mediaWorkerCpus);
    if (workers[workers.length - 1] >= facts.cores) {
      problems.push({
        path: ["mediaWorkerCpus"],
        message: `names CPU ${workers[workers.length - 1]} on a host with ${facts.cores} cores`,
        expected: `CPUs in 0-${facts.cores - 1}`,
      });
    } else if (workers.length >= facts.cores) {
      problems.push({
        path: ["mediaWorkerCpus"],
        message: "takes every CPU",
        expected: "at least one CPU left for interrupts and the kernel's network work",
      });
    }
  }
  const bytes = bufferBytes(facts.packetsPerSecond, facts.stallMs);
  if (bytes > MAX_BUFFER_BYTES) {
    problems.push({
      path: ["packetsPerSecond"],
      message: `with stallMs ${facts.stallMs} needs ${bytes} bytes of socket buffer`,
      expected: `packetsPerSecond × stallMs to need at most ${MAX_BUFFER_BYTES} bytes (1 GiB)`,
    });
  }
  return problems;
}

export const HOST_FACTS_FORMAT: InputFormat<HostFacts> = {
  name: "host-facts",
  expected: HOST_FACTS_EXPECTED,
  schema: hostFactsSchema,
  // A facts file is a dozen keys.
  maxBytes: 64 * 1024,
  maxListItems: 64,
  semantic: factsSemanticProblems,
};

/** Every problem with a facts document, the schema's and the rest, in one pass. */
export function hostFactsProblems(document: unknown): Problem[] {
  return documentProblems(document, HOST_FACTS_FORMAT);
}

/** Throws an InputError naming every problem; `file` labels the lines. */
export function assertHostFacts(file: string, document: unknown): HostFacts {
  assertNoProblems(file, hostFactsProblems(document));
  return document as HostFacts;
}

/** Reads and validates a YAML or JSON facts file. */
export function loadHostFacts(file: string): HostFacts {
  return loadInput(file, HOST_FACTS_FORMAT);
}
