/** What a bare-metal site declares per host, computed from its inventory. */
import type { Inventory, InventoryHost } from "../inventory/inventory";
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

/**
 * A Cloud DNS record set's id, the first import format @pulumi/gcp documents for
 * gcp.dns.RecordSet (`name` fully qualified, with its trailing dot, as the record's own id has it).
 */
export function cloudDnsImportId(project: string, zone: string, name: string, type: string) {
  return `projects/${project}/managedZones/${zone}/rrsets/${name}/${type}`;
}
