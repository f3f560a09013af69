/** What a bare-metal site declares per host, computed from its inventory. */
import type { Inventory, InventoryHost } from "../config/inventory.schema";
import type { MetalFleetSpec } from "../config/fleet.schema";
import type { HostIntent } from "../release/intent";

/** Hosts that get the tuning payload: everything not retired (draining hosts still serve calls). */
export function provisionedHosts(inventory: Inventory): InventoryHost[] {
  return inventory.hosts.filter((h) => h.state !== "retired");
}

/** Hosts that get a DNS record: only active ones take new joins, and none while it drains. */
export function dnsHosts(inventory: Inventory, intents: Map<string, HostIntent>): InventoryHost[] {
  return inventory.hosts.filter(
    (h) => h.state === "active" && intents.get(h.name)?.run !== "drain",
  );
}

/**
 * The inputs a host's copy and command take from the state instead of the program
 * (ignoreChanges; a host the up creates gets the program's): what carries the payload, when the
 * host keeps what it runs. A host that is to run an earlier payload keeps its copies too (the
 * earlier payload's copy is on it already), and its command names that payload.
 */
export function ignoredInputs(
  intent: Extract<HostIntent, { run: "payload" }>,
  renderedSha: string,
): { copy: string[]; command: string[] } {
  return {
    copy: intent.keep || intent.sha !== renderedSha ? ["source", "remotePath"] : [],
    command: intent.keep ? ["create", "triggers"] : [],
  };
}

export function hostFqdn(host: InventoryHost, domain: string): string {
  return `${host.name}.${domain}`;
}

export function hostCounts(
  inventory: Inventory,
): Record<"active" | "draining" | "retired", number> {
  const counts = { active: 0, draining: 0, retired: 0 };
  for (const h of inventory.hosts) counts[h.state]++;
  return counts;
}

export function hostStates(inventory: Inventory): Record<string, string> {
  return Object.fromEntries(inventory.hosts.map((h) => [h.name, h.state]));
}

/** The host key remote.Command pins; the inventory loader guarantees one on every provisioned host. */
export function pinnedHostKey(host: InventoryHost): string {
  if (!host.hostKey) throw new Error(`${host.name}: no hostKey to pin`);
  return host.hostKey;
}

/**
 * How remote.Command and remote.CopyToRemote reach a host, but for the private key (the site's
 * one key, a secret, unless the operator's ssh-agent holds it): its private address, pinned to
 * its host key, through the site's bastion when it has one.
 */
export function hostConnection(ssh: MetalFleetSpec["ssh"], host: InventoryHost) {
  const { bastion } = ssh;
  return {
    host: host.privateIp,
    port: ssh.port,
    user: ssh.user,
    hostKey: pinnedHostKey(host),
    ...(bastion
      ? {
          proxy: {
            host: bastion.host,
            port: bastion.port,
            user: bastion.user,
            hostKey: bastion.hostKey,
          },
        }
      : {}),
  };
}

/**
 * A Cloud DNS record set's id, the first import format @pulumi/gcp documents for
 * gcp.dns.RecordSet (`name` fully qualified, with its trailing dot, as the record's own id has it).
 */
export function cloudDnsImportId(project: string, zone: string, name: string, type: string) {
  return `projects/${project}/managedZones/${zone}/rrsets/${name}/${type}`;
}
