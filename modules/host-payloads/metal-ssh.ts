/**
 * How `pulumi up` reaches a bare-metal site's hosts: the operator's own OpenSSH client, run by a
 * local.Command per host, reading an ssh_config and a known_hosts file the program renders into
 * the project (`.avfleet/ssh/<pool>/`) at every run. Nothing of the connection is in Pulumi's
 * state: an address, a host key or the bastion changes these files, not a host's command, so it
 * re-runs no host. Pure; payload-store.ts writes the files.
 *
 * What OpenSSH does with them (ssh_config(5), OpenSSH 9.2 as Debian 12 ships it):
 * - the first value obtained for an option wins, so each host's and the bastion's sections come
 *   before `Host *`;
 * - `HostKeyAlias` makes the host key be looked up under the host's inventory name, not its
 *   address (an address reused by another host does not inherit its key);
 * - `ProxyJump` runs `ssh -W` to the bastion with the same `-F` file, so the bastion's section
 *   (its host key, its ControlMaster) applies to the jump;
 * - `ControlMaster auto` with `ControlPersist` multiplexes every jump over one bastion
 *   connection: a site's hosts, up to `--parallel` at once under `pulumi up`, would otherwise
 *   each open their own and meet sshd's MaxStartups (10:30:100, sshd_config(5)) on the bastion.
 *   The socket appears only once the master has logged in (openssh-portable ssh.c: ssh_login
 *   before muxserver_listen), and every client that starts before then opens a connection of
 *   its own: so each host's command first runs the site's `master` script, which lets one of
 *   them open the master while the others wait for its socket.
 */
import type { MetalFleetSpec } from "../config/fleet.schema";
import type { InventoryHost } from "../inventory/inventory";

/**
 * The site's SSH files, relative to the project root (where Pulumi runs the program and its
 * commands), by pool: a site's stack may be renamed, its commands must not change with it.
 */
export function sshDir(pool: string): string {
  return `.avfleet/ssh/${pool}`;
}

export const sshConfigFile = (pool: string) => `${sshDir(pool)}/config`;
export const knownHostsFile = (pool: string) => `${sshDir(pool)}/known_hosts`;
/** The site's private key, when the stack holds it (avfleet:sshPrivateKey) rather than the operator's ssh-agent. */
export const identityFile = (pool: string) => `${sshDir(pool)}/id`;
/** The script a host's command runs first when the site has a bastion: the master connection, once. */
export const masterScript = (pool: string) => `${sshDir(pool)}/master`;

const BASTION = "avfleet-bastion";

export interface SshFiles {
  config: string;
  knownHosts: string;
  /** With a bastion: the script that opens its master connection once (POSIX sh). */
  master?: string;
}

/** Seconds a command waits for a master connection before it goes on without one. */
const MASTER_WAIT = 60;

/**
 * Opens the bastion's master connection unless one is up. mkdir is the lock (atomic, on macOS
 * too, which has no flock(1)), holding its opener's pid, so a lock whose opener was killed is
 * taken over. The opener runs `ssh -MN` itself, in the background with its output to /dev/null
 * (pulumi-command waits for the command's pipes), and watches it: with the config's
 * ControlPersist the master detaches once logged in (openssh-portable ssh.c,
 * control_persist_detach) and leaves after 120 s unused (clientloop.c, only once no channel is
 * open). A connection that never became the master (the socket was taken) is killed rather than
 * left open forever, and a command that waits too long goes on without a master: one more
 * bastion login, not a failed host.
 */
function masterText(pool: string): string {
  const c = sshConfigFile(pool);
  // Per local user, as the socket is: another user's opener is no use to this one.
  const lock = `${sshDir(pool)}/master.$(id -u).lock`;
  return String.raw`#!/bin/sh
# The bastion's master connection for pool ${pool}'s host commands. Rendered by avfleet.
c=${c} l=${lock} i=0
m() { ssh -F $c -O check ${BASTION} 2>/dev/null; }
until m; do
  if mkdir "$l" 2>/dev/null; then
    echo $$ >"$l/pid"
    trap 'rm -rf "$l"' EXIT INT TERM HUP
    ssh -F $c -MNn ${BASTION} </dev/null >/dev/null 2>&1 &
    p=$! j=0
    until m; do
      kill -0 $p 2>/dev/null || m || { echo "avfleet: no connection to the bastion: ssh -F $c ${BASTION}" >&2; exit 255; }
      j=$((j + 1)); [ $j -le ${MASTER_WAIT} ] || { kill $p; exit 0; }
      sleep 1
    done
    exit 0
  fi
  # A dead opener's lock is taken over under a second lock, its pid read again there: two
  # waiters that both saw it dead must not remove the lock the first of them takes next.
  o=$(cat "$l/pid" 2>/dev/null)
  if [ -n "$o" ] && ! kill -0 "$o" 2>/dev/null && mkdir "$l.t" 2>/dev/null; then
    o=$(cat "$l/pid" 2>/dev/null)
    [ -z "$o" ] || kill -0 "$o" 2>/dev/null || rm -rf "$l"
    rmdir "$l.t"
  fi
  i=$((i + 1)); [ $i -le ${MASTER_WAIT} ] || exit 0
  sleep 1
done
`;
}

/** The bastion's key, without its comment: what a known_hosts line holds after the name. */
const keyOnly = (hostKey: string) => hostKey.trim().split(/\s+/).slice(0, 2).join(" ");

/** Pure. The ssh_config and known_hosts that reach `hosts` of the site as `ssh -F <config> <host name>`. */
export function sshFiles(
  pool: string,
  ssh: MetalFleetSpec["ssh"],
  hosts: readonly InventoryHost[],
): SshFiles {
  const { bastion } = ssh;
  const hostSections = hosts.flatMap((h) => [
    `Host ${h.name}`,
    `  HostName ${h.privateIp}`,
    `  HostKeyAlias ${h.name}`,
  ]);
  const bastionSection = bastion
    ? [
        `Host ${BASTION}`,
        `  HostName ${bastion.host}`,
        `  Port ${bastion.port}`,
        `  User ${bastion.user}`,
        `  HostKeyAlias ${BASTION}`,
        "  ProxyJump none",
        "  ControlMaster auto",
        // %C hashes the remote end only: two local users would share (and be refused) a socket.
        `  ControlPath ${sshDir(pool)}/%i-%C`,
        "  ControlPersist 120",
      ]
    : [];
  const config = [
    `# How pulumi up reaches pool ${pool}'s hosts (ssh -F ${sshConfigFile(pool)} <host>).`,
    "# Rendered by the program at every run from the stack and its inventory: edit those.",
    ...hostSections,
    ...bastionSection,
    "Host *",
    `  User ${ssh.user}`,
    `  Port ${ssh.port}`,
    ...(bastion ? [`  ProxyJump ${BASTION}`] : []),
    `  UserKnownHostsFile ${knownHostsFile(pool)}`,
    "  GlobalKnownHostsFile /dev/null",
    "  StrictHostKeyChecking yes",
    "  UpdateHostKeys no",
    "  CheckHostIP no",
    "  BatchMode yes",
    ...(ssh.agent ? [] : [`  IdentityFile ${identityFile(pool)}`, "  IdentitiesOnly yes"]),
    "  ConnectTimeout 15",
    "  ServerAliveInterval 15",
    "  ServerAliveCountMax 4",
    "",
  ].join("\n");
  const knownHosts = [
    ...hosts.map((h) => `${h.name} ${keyOnly(pinnedHostKey(h))}`),
    ...(bastion ? [`${BASTION} ${keyOnly(bastion.hostKey)}`] : []),
    "",
  ].join("\n");
  return { config, knownHosts, ...(bastion ? { master: masterText(pool) } : {}) };
}

/** The host key the site's known_hosts pins; the inventory loader guarantees one on every provisioned host. */
export function pinnedHostKey(host: InventoryHost): string {
  if (!host.hostKey) throw new Error(`${host.name}: no hostKey to pin`);
  return host.hostKey;
}
