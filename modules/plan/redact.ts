/**
 * Inputs as a Plan records them. Secrets never reach a Plan: mock inputs carry them wrapped in
 * Pulumi's secret envelope. Assets and archives as the SDK sends them to the engine.
 */
import { SECRET } from "./plan";

// Pulumi's wire signature for a secret value (sdk/nodejs/runtime/rpc.ts).
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (record[SIG_KEY] === SECRET_SIG) return SECRET;
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, redactSecrets(v)]));
  }
  return value;
}

/** An asset or archive object of the SDK (its own brand, `asset.Asset.isInstance`). */
function isAssetObject(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === "object" &&
    ("__pulumiAsset" in value || "__pulumiArchive" in value)
  );
}

export function hasAsset(value: unknown): boolean {
  if (isAssetObject(value)) return true;
  if (Array.isArray(value)) return value.some(hasAsset);
  if (value !== null && typeof value === "object") return Object.values(value).some(hasAsset);
  return false;
}
