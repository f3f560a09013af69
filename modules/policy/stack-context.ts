/**
 * What a policy knows of a stack beyond its resources: the stack file it was built from,
 * found from the resource's URN. The same in `pulumi preview --policy-pack policy` (the pack
 * runs next to this repository's stacks/) and in the offline runner.
 */
import { join, resolve } from "node:path";
import { loadStackFile, stackFileName, type LoadedStack } from "../config/stack";
import { readYamlFile } from "../config/validate";
import { stackOfUrn } from "./policy";

let stacksDir = resolve(__dirname, "..", "..", "stacks");
const loaded = new Map<string, LoadedStack>();

/** Where stack files are looked up (the offline runner and tests point it elsewhere). */
export function useStacksDir(dir: string): void {
  stacksDir = resolve(dir);
  loaded.clear();
}

export function stackFor(urn: string): LoadedStack {
  const name = stackOfUrn(urn);
  if (!loaded.has(name)) loaded.set(name, loadStackFile(stackFileName(stacksDir, name)));
  return loaded.get(name)!;
}

/**
 * A stack file's config as written, without validation: secrets-as-plain-text checks need
 * what the file says, which the program (seeing decrypted values) cannot tell apart.
 */
export function rawStackConfig(urn: string): Record<string, unknown> {
  const doc = readYamlFile(join(stacksDir, `Pulumi.${stackOfUrn(urn)}.yaml`), "a stack file");
  return ((doc as { config?: Record<string, unknown> }).config ?? {}) as Record<string, unknown>;
}
