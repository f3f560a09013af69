/**
 * The bytes Pulumi's state keeps for resources, from their inputs as the SDK sends them to the
 * engine (what a mock monitor receives): each property as the engine serializes it into the
 * checkpoint (pulumi/pulumi pkg/resource/stack/deployment.go, SerializePropertyValue), its
 * inputs and its outputs. Pure.
 *
 * - A secret is written as `{"4dabf…":"1b47…","ciphertext":"v1:<nonce>:<ct>"}`: the JSON of its
 *   value (Go's json.Marshal, which escapes <, > and &) sealed with AES-256-GCM (a 16-byte tag)
 *   under a 12-byte nonce, each base64 (the passphrase provider's symmetricCrypter,
 *   sdk/go/common/resource/config/crypt.go: EncryptValue, encryptAES256GCGM).
 * - An asset is its signature, the sha256 of its content and its path (Asset.Serialize,
 *   sdk/go/common/resource/asset/asset.go); the content is not in the state.
 * - Outputs: a local.Command's are its inputs and its stdout and stderr (pulumi-command v1.2.1
 *   provider/pkg/provider/local/command.go, CommandOutputs), any other custom resource's what
 *   the mocks answer (./mock-state.ts), a component's what it registered.
 * - JSON without the file backend's indentation (sdk/go/common/encoding/marshal.go indents by
 *   four spaces, which adds about a third): `indented` counts it.
 */
import { mockState } from "./mock-state";

const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17";

/** A resource as the SDK registers it: secrets `{[SIG]: SECRET_SIG, value}`, assets `{[SIG]: ASSET_SIG, path}`. */
export interface RegisteredResource {
  type: string;
  name: string;
  custom: boolean;
  inputs: Record<string, unknown>;
  /** A component's registered outputs; a custom resource's are modelled. */
  outputs?: Record<string, unknown>;
}

const base64Length = (bytes: number) => 4 * Math.ceil(bytes / 3);

/** `v1:<base64 nonce>:<base64 ciphertext>` for a plaintext of that many bytes. */
export function ciphertextLength(plaintextBytes: number): number {
  return "v1:".length + base64Length(12) + ":".length + base64Length(plaintextBytes + 16);
}

/** Go's json.Marshal, which the engine seals secrets with: HTML characters escaped. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** A property as the checkpoint holds it (a secret's ciphertext as that many placeholder bytes). */
export function stored(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stored);
  if (!isRecord(value)) return value;
  if (value[SIG] === SECRET_SIG) {
    const plaintext = Buffer.byteLength(goJson(stored(value.value)));
    return { [SIG]: SECRET_SIG, ciphertext: "x".repeat(ciphertextLength(plaintext)) };
  }
  if (value[SIG] === ASSET_SIG) {
    return { [SIG]: ASSET_SIG, hash: "0".repeat(64), ...(value.path ? { path: value.path } : {}) };
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stored(v)]));
}

/** What the state holds as the resource's outputs. */
export function outputsOf(resource: RegisteredResource): Record<string, unknown> {
  const { type, name, inputs } = resource;
  if (!resource.custom) return resource.outputs ?? {};
  if (type === "command:local:Command") {
    // What its echo prints: the one line a command that succeeds prints.
    const stdout = /^echo ([^'\n]*)/m.exec(String(inputs.create ?? ""))?.[1] ?? "";
    return { ...inputs, stdout, stderr: "" };
  }
  return mockState(type, name, inputs, () => ({}));
}

export interface StateBytes {
  /** Inputs and outputs as compact JSON. */
  compact: number;
  /** The same as the file backend writes it, a resource's properties at its depth (five). */
  indented: number;
}

const DEPTH = 5;

function bytesOf(value: unknown): StateBytes {
  const indented = JSON.stringify(value, null, 4) ?? "";
  const lines = indented.split("\n").length;
  return {
    compact: Buffer.byteLength(JSON.stringify(value) ?? ""),
    indented: Buffer.byteLength(indented) + (lines - 1) * DEPTH * 4,
  };
}

/** A resource's inputs and outputs in the state. */
export function resourceStateBytes(resource: RegisteredResource): StateBytes {
  const inputs = bytesOf(stored(resource.inputs));
  const outputs = bytesOf(stored(outputsOf(resource)));
  return {
    compact: inputs.compact + outputs.compact,
    indented: inputs.indented + outputs.indented,
  };
}

export interface SiteStateBytes {
  /** Each host's resources (named `<pool>-<host>-<what>`), summed per host. */
  perHost: Map<string, StateBytes>;
  /** Every resource of the stack. */
  total: StateBytes;
}

/** The state of a bare-metal site's stack, and what each of its hosts adds to it. */
export function siteStateBytes(
  resources: RegisteredResource[],
  pool: string,
  hosts: readonly string[],
): SiteStateBytes {
  const hostOf = new Map(
    hosts.flatMap((host) =>
      ["tune", "drain", "dns"].map((what) => [`${pool}-${host}-${what}`, host]),
    ),
  );
  const perHost = new Map<string, StateBytes>();
  const total = { compact: 0, indented: 0 };
  for (const resource of resources) {
    const bytes = resourceStateBytes(resource);
    total.compact += bytes.compact;
    total.indented += bytes.indented;
    const host = hostOf.get(resource.name);
    if (!host) continue;
    const sum = perHost.get(host) ?? { compact: 0, indented: 0 };
    perHost.set(host, {
      compact: sum.compact + bytes.compact,
      indented: sum.indented + bytes.indented,
    });
  }
  return { perHost, total };
}
