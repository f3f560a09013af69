/**
 * Stack files: find them, load one into a typed, validated config (or every problem at
 * once), and turn it into the string map Pulumi's config runtime takes.
 */
import { existsSync, readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { dnsProviderProblems } from "../config/dns.schema";
import { fleetProblems, metalHostCountProblems } from "../config/fleet";
import type { FleetSpec, MetalFleetSpec } from "../config/fleet.schema";
import type { TrafficSpec } from "../config/traffic";
import { cloudRolloutProblems } from "../config/rollout";
import { steeringProblems, weightProblems } from "../config/traffic";
import type { Inventory } from "../inventory/inventory";
import {
  assertNoFileProblems,
  inFile,
  InputError,
  type FileProblem,
  type KeyPath,
  type Problem,
} from "../inputs/problems";
import { checkRunner, notRestated, refusedBy, schemaProblems } from "../inputs/validate";
import { readYamlFile } from "../inputs/yaml-read";
import { DERIVED_FROM, derivedProblems, metalProblems } from "./derived";
import { SECRET_KEYS, stackFileSchema, type StackFile } from "./stack.schema";

export const DEFAULT_STACKS_DIR = "stacks";
export const STACK_FILE = /^Pulumi\.([a-z0-9][a-z0-9-]*)\.yaml$/;

/** A stack file that passed every check. */
export interface LoadedStack {
  name: string;
  file: string;
  document: StackFile;
  /** Fleet stacks: the fleet spec. */
  fleet?: FleetSpec;
  /** Traffic stacks: the traffic split. */
  traffic?: TrafficSpec;
  /** Bare-metal stacks: the site's validated host inventory. */
  inventory?: Inventory;
}

export function stackFileName(dir: string, stack: string): string {
  return join(dir, `Pulumi.${stack}.yaml`);
}

/** Stack names in a directory, sorted. */
export function listStacks(dir = DEFAULT_STACKS_DIR): string[] {
  return readdirSync(dir)
    .map((entry) => STACK_FILE.exec(entry)?.[1])
    .filter((name): name is string => name !== undefined)
    .sort();
}

/**
 * A traffic split's pools must be fleet stacks of the same media region that publish an
 * endpoint, and its weights must sum to 100.
 */
export function trafficProblems(
  traffic: TrafficSpec,
  config: StackFile["config"],
  stacksDir: string,
  at: KeyPath,
  /** Keys the schema refused: a check that reads one would only restate its problem. */
  refused: (path: KeyPath) => boolean = () => false,
): Problem[] {
  // Each check reads only keys the schema accepted, so a refused key elsewhere in the split
  // (its ttl, say) hides none of the others until the next run.
  const provider = refused([...at, "dns", "provider"]) ? undefined : traffic.dns?.provider;
  const problems = [
    ...(refused([...at, "pools"]) ? [] : weightProblems(traffic, at)),
    ...(refused([...at, "pools"]) || refused([...at, "dns"]) ? [] : steeringProblems(traffic, at)),
    ...(provider ? dnsProviderProblems(provider, config) : []),
  ];
  const cloudDns = provider === "clouddns";
  // Cloud DNS: each pool's first signaling port, where the one health check probes it.
  const ports = new Map<string, number>();
  (refused([...at, "pools"]) ? [] : traffic.pools).forEach((pool, i) => {
    const path = [...at, "pools", i, "stack"];
    const file = stackFileName(stacksDir, pool.stack);
    if (!existsSync(file)) {
      problems.push({
        path,
        message: `is "${pool.stack}", which has no stack file`,
        expected: `a fleet stack in ${stacksDir}: ${listStacks(stacksDir).join(", ")}`,
      });
      return;
    }
    let fleet: FleetSpec | undefined;
    try {
      fleet = loadStackFile(file).fleet;
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      problems.push({
        path,
        message: `is "${pool.stack}", whose stack file has problems`,
        expected: "a valid fleet stack",
      });
      // The pool's own problems are its file's to report. What this split needs of the pool
      // is still checked from what that file says, so fixing the pool does not reveal it.
      fleet = unvalidatedFleet(file);
      if (!fleet) return;
    }
    if (!fleet) {
      problems.push({
        path,
        message: `is "${pool.stack}", not a fleet stack`,
        expected: "a fleet stack",
      });
    } else if (fleet.mediaRegion !== traffic.mediaRegion) {
      problems.push({
        path,
        message: `is "${pool.stack}", which serves media region ${fleet.mediaRegion}`,
        expected: `a pool of ${traffic.mediaRegion}`,
      });
    } else if (!fleet.endpoint) {
      problems.push({
        path,
        message: `is "${pool.stack}", which declares no endpoint`,
        expected: "a fleet with avfleet:fleet.endpoint",
      });
    } else if (cloudDns) {
      problems.push(...cloudDnsPoolProblems(fleet, pool.stack, path));
      const port = fleet.ports?.signalingTcp?.[0];
      if (typeof port === "number") ports.set(pool.stack, port);
    }
  });
  if (new Set(ports.values()).size > 1) {
    problems.push({
      path: [...at, "pools"],
      message: `serve joins on different first signaling ports (${[...ports].map(([stack, port]) => `${port} on ${stack}`).join(", ")})`,
      expected:
        "one port: a Cloud DNS record has one health check, probing every pool on the same port",
    });
  }
  if (cloudDns && !traffic.dns.healthCheckRegions) {
    problems.push({
      path: [...at, "dns", "healthCheckRegions"],
      message: "is missing",
      expected:
        "three Google Cloud regions Cloud DNS probes the pools' endpoints from: a record without a health check keeps sending joins to a dead pool",
    });
  }
  return problems;
}

/**
 * The fleet a stack file declares, read without its checks: only its keys of the right type
 * are looked at, one of another type counting as missing.
 */
function unvalidatedFleet(file: string): FleetSpec | undefined {
  let document: unknown;
  try {
    document = readYamlFile(file, "a Pulumi stack file with a config: mapping");
  } catch (err) {
    if (err instanceof InputError) return undefined;
    throw err;
  }
  const fleet = (document as StackFile | null)?.config?.["avfleet:fleet"];
  if (typeof fleet !== "object" || fleet === null) return undefined;
  const text = (value: unknown) => (typeof value === "string" ? value : undefined);
  const raw = fleet as Record<string, unknown>;
  return {
    ...fleet,
    mediaRegion: text(raw.mediaRegion),
    endpoint: text(raw.endpoint),
    kind: text(raw.kind),
  } as FleetSpec;
}

/**
 * A health-checked Cloud DNS record answers with A records of IPs its health check probes: a
 * pool must publish the addresses its endpoint answers on — a GCP pool its load balancer's, a
 * bare-metal site the ones it declares; an AWS network load balancer has no fixed ones.
 */
function cloudDnsPoolProblems(fleet: FleetSpec, stack: string, path: KeyPath): Problem[] {
  if (fleet.kind === "aws") {
    return [
      {
        path,
        message: `is "${stack}", an AWS pool: its network load balancer has no fixed IP addresses for a health-checked Cloud DNS record`,
        expected: "a GCP or bare-metal pool, or dns.provider route53",
      },
    ];
  }
  if (fleet.kind === "metal" && !fleet.endpointAddresses) {
    return [
      {
        path,
        message: `is "${stack}", whose fleet declares no endpointAddresses`,
        expected: `avfleet:fleet.endpointAddresses in ${stack}: the IPv4 addresses ${fleet.endpoint} answers on, which the Cloud DNS health check probes`,
      },
    ];
  }
  return [];
}

/**
 * A `secure:` value that is text in base64, not ciphertext: it evaluates offline (there is no
 * key to decrypt it with) and fails only at the first real `pulumi up`. Every secrets provider
 * stores encrypted bytes — the passphrase and service providers `v1:<nonce>:<AES-256-GCM
 * ciphertext>`, both base64 (pulumi/pulumi sdk/go/common/resource/config/crypt.go,
 * symmetricCrypter.EncryptValue) — and 16 random bytes all fall in printable ASCII about once in
 * ten million, so a value whose every part decodes to printable text was written by hand. The
 * example stacks carry one on purpose (avfleet:example: true), as they carry other placeholders.
 */
function fakeSecretProblems(config: StackFile["config"]): Problem[] {
  // An example (a string once the Pulumi CLI rewrote the file: docs/real-path.md, issue #30),
  // or a flag the schema refused: that problem is reported there, and whether this stack is
  // an example is not known.
  const example = config["avfleet:example"];
  if (example !== undefined && String(example) !== "false") return [];
  return Object.entries(config).flatMap(([key, value]) => {
    const secure = (value as { secure?: unknown } | null)?.secure;
    const text = typeof secure === "string" ? decodedText(secure) : undefined;
    if (text === undefined) return [];
    return [
      {
        path: ["config", key, "secure"],
        message: `decodes to the text ${JSON.stringify(text.length > 40 ? `${text.slice(0, 37)}...` : text)}, not ciphertext: a placeholder`,
        expected: `a value written by pulumi config set --secret ${key} (or avfleet:example: true on a stack that is never applied)`,
      },
    ];
  });
}

/** The text a hand-made "ciphertext" holds, or undefined when it may be real. */
export function decodedText(secure: string): string | undefined {
  const parts = secure.replace(/^v1:/, "").split(":");
  const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
  if (!parts.every((part) => BASE64.test(part))) return undefined;
  const decoded = parts.map((part) => Buffer.from(part, "base64"));
  const bytes = Buffer.concat(decoded);
  const printable = bytes.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a);
  return bytes.length >= 8 && printable ? decoded.map(String).join(":") : undefined;
}

/**
 * Validates a parsed stack document and, for a metal stack, its inventory: the schema, the
 * semantic checks, and what tuning and capacity derive, all in one pass. Throws InputError
 * with every problem of every file, sorted. `stacksDir` is where the stacks a traffic split
 * names are.
 */
export function validateStackDocument(
  file: string,
  document: unknown,
  stacksDir = dirname(file),
): { document: StackFile; inventory?: Inventory } {
  const schema = schemaProblems(stackFileSchema, document);
  const semantic: Problem[] = [];
  const other: FileProblem[] = [];
  let inventory: Inventory | undefined;
  const check = checkRunner(schema);
  const stack = document as StackFile;
  const fleet = stack?.config?.["avfleet:fleet"];
  const traffic = stack?.config?.["avfleet:traffic"];
  const fleetAt = ["config", "avfleet:fleet"];
  if (stack?.config && typeof stack.config === "object") {
    check(() => semantic.push(...fakeSecretProblems(stack.config)));
  }
  if (stack?.config && typeof stack.config === "object" && !fleet === !traffic) {
    semantic.push({
      path: ["config"],
      message: fleet
        ? "has both avfleet:fleet and avfleet:traffic"
        : "has neither avfleet:fleet nor avfleet:traffic",
      expected: "exactly one of them",
    });
  } else if (traffic) {
    check(() =>
      semantic.push(
        ...trafficProblems(
          traffic,
          stack.config,
          stacksDir,
          ["config", "avfleet:traffic"],
          refusedBy(schema),
        ),
      ),
    );
  } else if (fleet) {
    check(() => semantic.push(...fleetProblems(fleet, stack.config, fleetAt, refusedBy(schema))));
    check(() => semantic.push(...metalHostCountProblems(fleet, fleetAt)));
    check(() =>
      semantic.push(
        ...cloudRolloutProblems(fleet.kind, stack.config["avfleet:rollout"], [
          "config",
          "avfleet:rollout",
        ]),
      ),
    );
    // What tuning and capacity derive is checked whenever the keys they read were accepted, so
    // that a mistake elsewhere in the file does not hide one here until the next run.
    const derive = !DERIVED_FROM.some((key) => refusedBy(schema)([...fleetAt, key]));
    // The workload gives a host fact only to an image binding a port below 1024: with a refused
    // workload the other facts are still derived and checked, that one is left out.
    const derivable: FleetSpec = refusedBy(schema)([...fleetAt, "workload"])
      ? ({ ...fleet, workload: {} } as FleetSpec)
      : fleet;
    if (fleet.kind === "metal") {
      // A path the schema refused is not read at all: it may name a file outside the project.
      if (!refusedBy(schema)([...fleetAt, "inventory"])) {
        check(() => {
          const metal = metalProblems(file, derivable as MetalFleetSpec, fleetAt, stacksDir, derive);
          other.push(...metal.problems);
          inventory = metal.inventory;
        });
      }
    } else if (derive) {
      check(() => other.push(...derivedProblems(file, derivable, fleetAt)));
    }
  }
  assertNoFileProblems([
    ...inFile(file, [...schema, ...notRestated(schema, semantic)]),
    // One problem per key: a derived value at a key a check already refused says it again.
    ...other.filter(
      (p) => p.file !== file || notRestated([...schema, ...semantic], [p]).length > 0,
    ),
  ]);
  return { document: stack, inventory };
}

export function loadStackFile(file: string): LoadedStack {
  const name = STACK_FILE.exec(basename(file))?.[1];
  if (!name) {
    throw new Error(`${file} is not named Pulumi.<stack>.yaml`);
  }
  const { document, inventory } = validateStackDocument(
    file,
    readYamlFile(file, "a Pulumi stack file with a config: mapping"),
  );
  return {
    name,
    file,
    document,
    fleet: document.config["avfleet:fleet"],
    traffic: document.config["avfleet:traffic"],
    inventory,
  };
}

/** Loads several stacks, collecting every file's problems before failing, sorted by file. */
export function loadStacks(dir: string, names: string[]): LoadedStack[] {
  const loaded: LoadedStack[] = [];
  const problems: FileProblem[] = [];
  for (const name of names) {
    try {
      loaded.push(loadStackFile(stackFileName(dir, name)));
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      problems.push(...err.problems);
    }
  }
  assertNoFileProblems(problems);
  return loaded;
}

/** Offline there is no key to decrypt secrets with: they evaluate to this, marked secret. */
export const OFFLINE_SECRET = "offline-placeholder-secret";

/** `key: {secure: …}` in a stack file: a Pulumi secret, whatever its namespace. */
const isSecretValue = (value: unknown): boolean =>
  typeof value === "object" && value !== null && "secure" in value;

const isAvfleetSecretKey = (key: string) => (SECRET_KEYS as readonly string[]).includes(key);

/**
 * The string map Pulumi's config runtime holds for a stack (structured values JSON-encoded,
 * as `pulumi config` stores them) and which keys are secrets.
 */
export function pulumiConfigMap(stack: StackFile): {
  config: Record<string, string>;
  secretKeys: string[];
} {
  const entries = Object.entries(stack.config);
  return {
    config: Object.fromEntries(
      entries.map(([key, value]) => [
        key,
        isSecretValue(value)
          ? OFFLINE_SECRET
          : typeof value === "string"
            ? value
            : JSON.stringify(value),
      ]),
    ),
    secretKeys: entries.filter(([, value]) => isSecretValue(value)).map(([key]) => key),
  };
}

/** Keys whose value Pulumi hands the program as the string "true" or "false". */
const BOOLEAN_KEYS = ["avfleet:example"];

/** Our structured values arrive JSON-encoded; a value that is not JSON stays a string. */
function decodeAvfleetValue(key: string, value: string): unknown {
  if (BOOLEAN_KEYS.includes(key) && /^(true|false)$/.test(value)) return value === "true";
  if (!/^[[{]/.test(value)) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * The stack document for the program under `pulumi up`, from Pulumi's decrypted config map.
 * Our secret keys become `{secure}` again so that the stack-file schema applies unchanged;
 * the program reads their values as secret Outputs. Keys of other namespaces (providers, ESC
 * environments) pass through as the strings Pulumi holds: we validate only what we read.
 */
export function stackDocumentFromConfigMap(config: Record<string, string>): unknown {
  return {
    config: Object.fromEntries(
      Object.entries(config).map(([key, value]) => [
        key,
        isAvfleetSecretKey(key)
          ? { secure: "(decrypted by pulumi)" }
          : key.startsWith("avfleet:")
            ? decodeAvfleetValue(key, value)
            : value,
      ]),
    ),
  };
}
