/**
 * The files a bare-metal site's commands read on the operator's side, written by the program
 * under the directory Pulumi runs it and its commands in (the project root): each payload the
 * program renders at `.avfleet/payloads/<sha256>.sh`, the site's ssh_config and known_hosts, and
 * its private key when the stack holds it. The paths are relative, so the state holds the same
 * commands on every teammate's machine.
 */
import { chmodSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { payloadFile, type Payload } from "./metal-payload";
import {
  identityFile,
  knownHostsFile,
  masterScript,
  sshConfigFile,
  type SshFiles,
} from "./metal-ssh";

/** Whole or not at all: a concurrent evaluation, or a command reading it, never reads half. */
function store(root: string, file: string, text: string, mode = 0o644): string {
  const path = join(root, file);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, text, { mode });
  // writeFileSync's mode is only for a new file: a partial left by a killed run keeps its own.
  chmodSync(partial, mode);
  renameSync(partial, path);
  return file;
}

/** Writes the payload's file (the same bytes again when it is there) and returns its path. */
export function storePayload(payload: Payload, root = process.cwd()): string {
  return store(root, payloadFile(payload.sha), payload.text);
}

/** Writes the site's SSH files; returns the paths a host's command names. */
export function storeSshFiles(
  pool: string,
  files: SshFiles,
  root = process.cwd(),
): { config: string; master?: string } {
  store(root, knownHostsFile(pool), files.knownHosts);
  const master = files.master ? store(root, masterScript(pool), files.master) : undefined;
  return { config: store(root, sshConfigFile(pool), files.config), ...(master ? { master } : {}) };
}

/** Writes the site's private key, readable by the operator alone (ssh refuses it otherwise). */
export function storeIdentity(pool: string, privateKey: string, root = process.cwd()): void {
  store(
    root,
    identityFile(pool),
    privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`,
    0o600,
  );
}
