/**
 * What a bare-metal site keeps in Pulumi's state: per host (its command or drain request, its
 * DNS record; inputs and outputs) and for a whole 5,000-host site, with the operator's ssh-agent
 * (ssh.agent) or the stack's key (avfleet:sshPrivateKey, written beside the ssh_config, never in
 * the state: both must measure the same). The last line is for machines: state_kib_per_host (the
 * example sites' largest host) and site_state_mib_5000.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_STACKS_DIR, stackFileName } from "../modules/stacks/stack";
import { writeSite } from "./estate";
import { measureSite, type Auth, type SiteState } from "./state";

const SITE_HOSTS = 5000;
const kib = (bytes: number) => (bytes / 1024).toFixed(2);
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

function line(label: string, s: SiteState): string {
  return `  ${label.padEnd(28)} ${kib(s.maxPerHost.compact)} KiB per host (${kib(s.maxPerHost.indented)} as the file backend indents it), ${s.hosts} hosts, whole stack ${mib(s.total.compact)} MiB`;
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-state-"));
  const keyFile = join(dir, "id_ed25519");
  // A key as operators make them: OpenSSH's ed25519 private key, 399 bytes with this comment.
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "avfleet@ops", "-f", keyFile]);
  const auths: [string, Auth][] = [
    ["ssh-agent", "agent"],
    ["the stack's ed25519 key", { keyFile }],
  ];
  console.log("state bench: bytes Pulumi keeps per bare-metal host (inputs + outputs)");
  const sites: SiteState[] = [];
  for (const stack of ["metal-sjc", "metal-ams"]) {
    console.log(stack);
    for (const [label, auth] of auths) {
      const state = measureSite(stackFileName(DEFAULT_STACKS_DIR, stack), auth);
      sites.push(state);
      console.log(line(label, state));
    }
  }
  for (const sub of ["stacks", "inventory"]) mkdirSync(join(dir, sub));
  writeSite(dir, "metal-big", SITE_HOSTS);
  const big = measureSite(stackFileName(join(dir, DEFAULT_STACKS_DIR), "metal-big"), "agent");
  console.log(`a generated site of ${SITE_HOSTS} hosts (metal-sjc's settings, its bastion)`);
  console.log(line("ssh-agent", big));
  const perHost = Math.max(...sites.map((s) => s.maxPerHost.compact));
  console.log(
    `state: state_kib_per_host=${kib(perHost)} site_state_mib_5000=${mib(big.total.compact)}`,
  );
}

main();
