/**
 * The project's copies of the payloads the program renders, where remote.CopyToRemote's
 * FileAsset reads them: `.avfleet/payloads/<sha256>.sh` under the directory Pulumi runs the
 * program in (the project root). The path is relative, so the state holds the same one on every
 * teammate's machine; the engine stores the asset as that path and the content's sha256, and
 * compares assets by the sha256 alone.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { payloadFile, type Payload } from "./metal-payload";

/** Writes the payload's file (the same bytes again when it is there) and returns its path. */
export function storePayload(payload: Payload, root = process.cwd()): string {
  const file = payloadFile(payload.sha);
  const path = join(root, file);
  mkdirSync(dirname(path), { recursive: true });
  // Whole or not at all: a concurrent evaluation, or the engine hashing it, never reads half.
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, payload.text);
  renameSync(partial, path);
  return file;
}
