/**
 * The Changelog's changes that made a valid input file invalid, as `avfleet upgrade-inputs`
 * tells them: each entry's title is the bold title of its CHANGELOG.md entry (a test holds the
 * two together), its one-line fix, and how the command recognises what is left of it in a
 * problem the current loader reports. `rewrites` marks the ones the command fixes itself.
 */
import { formatKeyPath, type Problem } from "../inputs/problems";

export type InputKind = "stack file" | "inventory" | "runbook" | "demand CSV";

export interface ChangelogEntry {
  /** The entry's bold title in CHANGELOG.md, verbatim. */
  title: string;
  kind: InputKind | "any";
  fix: string;
  /** True when upgrade-inputs rewrites the file itself; false when it only reports. */
  rewrites: boolean;
  /** Whether a loader problem (on a file of `kind`) is what this change left behind. */
  left?: (key: string, problem: Problem) => boolean;
}

const FLEET = "config.avfleet:fleet";
const TRAFFIC = "config.avfleet:traffic";
const missing = (p: Problem) => p.message.startsWith("is missing");

export const CHANGELOG: readonly ChangelogEntry[] = [
  {
    title: "`scale replay --demand` CSVs that were read before are refused",
    kind: "demand CSV",
    fix: "hexadecimal and exponent counts are written in decimal and a third column dropped; a time without a zone, an empty or negative count or a long gap: fix the line",
    rewrites: true,
    left: () => true,
  },
  {
    title: "`minHosts`/`maxHosts` on a metal fleet",
    kind: "stack file",
    fix: "delete both keys (a site's hosts are its inventory's)",
    rewrites: true,
    left: (key, p) =>
      /^config\.avfleet:fleet\.(min|max)Hosts$/.test(key) && /metal/.test(p.message),
  },
  {
    title: "`inventory:` must lie inside the project",
    kind: "stack file",
    fix: "name the inventory relative to the project root (an absolute path inside the project is rewritten); move one outside it under the project",
    rewrites: true,
    left: (key) => key === `${FLEET}.inventory`,
  },
  {
    title: "Merge keys (`<<`), aliases expanding past 100 nodes, duplicate keys, several documents",
    kind: "any",
    fix: "write the merged keys out, once each, in one document (merge keys are written out)",
    rewrites: true,
  },
  {
    title: "a stack file, inventory, runbook or facts file that is not UTF-8",
    kind: "any",
    fix: "convert it to UTF-8 (UTF-16 is converted; another encoding: iconv -f <encoding> -t UTF-8)",
    rewrites: true,
  },
  {
    title: "`workload` on every fleet",
    kind: "stack file",
    fix: "add `workload: { package: <deb name>, version: <exact version>, adminPort: <loopback port> }` (or `image:`)",
    rewrites: false,
    left: (key, p) => key === `${FLEET}.workload` && missing(p),
  },
  {
    title: "`demand` on every fleet",
    kind: "stack file",
    fix: "add `demand: { peakParticipants: <n>, streamsPerParticipant: <n>, avgStreamKbps: <kbps> }`",
    rewrites: false,
    left: (key, p) => key === `${FLEET}.demand` && missing(p),
  },
  {
    title: "`dns.healthCheckRegions` on a Cloud DNS split",
    kind: "stack file",
    fix: "add `dns.healthCheckRegions: [<region>, <region>, <region>]`, three distinct Google Cloud regions",
    rewrites: false,
    left: (key, p) => key === `${TRAFFIC}.dns.healthCheckRegions` && missing(p),
  },
  {
    title: "`endpointAddresses` on a metal fleet in a Cloud DNS split",
    kind: "stack file",
    fix: "add `avfleet:fleet.endpointAddresses: [<IPv4>, …]` to the metal stack the split names",
    rewrites: false,
    left: (key, p) => key.startsWith(`${TRAFFIC}.pools`) && /endpointAddresses/.test(p.message),
  },
  {
    title: "`endpointZone` on a cloud fleet with an `endpoint`",
    kind: "stack file",
    fix: "add `avfleet:fleet.endpointZone:` (Cloud DNS managed zone name, or Route53 hosted zone id) or drop `endpoint`",
    rewrites: false,
  },
  {
    title: "Where pages go",
    kind: "stack file",
    fix: "add `avfleet:fleet.alerting: { notify: { page: <receiver>, ticket: <receiver> } }`",
    rewrites: false,
    left: (key) => key.startsWith(`${FLEET}.alerting.notify`),
  },
  {
    title: "No placeholder values in a stack that is applied",
    kind: "stack file",
    fix: "replace the value with your own, or keep `avfleet:example: true` on a stack that is never applied",
    rewrites: false,
  },
  {
    title: 'a secret whose "ciphertext" is base64 of printable text',
    kind: "stack file",
    fix: "`pulumi config set --secret <key> -s <stack> < value`",
    rewrites: false,
    left: (key, p) => /\.secure$/.test(key) && /placeholder/.test(p.message),
  },
  {
    title: "`workload.adminPort` equal to `ports.health.port` or to one of",
    kind: "stack file",
    fix: "give the SFU's admin port a number of its own (the examples use 9090)",
    rewrites: false,
    left: (key) => key === `${FLEET}.workload.adminPort`,
  },
  {
    title: "`ssh.bastion.hostKey`",
    kind: "stack file",
    fix: "add `hostKey: <the bastion's ed25519 or ecdsa public key line>`",
    rewrites: false,
    left: (key) => key === `${FLEET}.ssh.bastion.hostKey`,
  },
  {
    title: "Unknown `avfleet:` keys",
    kind: "stack file",
    fix: "delete or correct the key",
    rewrites: false,
    left: (key, p) => /^config\.avfleet:/.test(key) && /not allowed|unknown/i.test(p.message),
  },
  {
    title: "The stack's `site` must equal its inventory's `site`.",
    kind: "stack file",
    fix: "make the two the same",
    rewrites: false,
    left: (key, p) => key === `${FLEET}.site` && /inventory of site/.test(p.message),
  },
  {
    title: "`hostKey` on every host that is not retired",
    kind: "inventory",
    fix: "add `hostKey: <the line of the host's /etc/ssh/ssh_host_ed25519_key.pub>` (from the host or your asset DB)",
    rewrites: false,
    left: (key) => /^hosts\[\d+\]\.hostKey$/.test(key),
  },
  {
    title: "`racks:`",
    kind: "inventory",
    fix: "add `racks: { <rack>: { power: <feed>, network: <domain> }, … }`, one entry per rack",
    rewrites: false,
    left: (key) => key === "racks" || /^hosts\[\d+\]\.rack$/.test(key),
  },
  {
    title: "`publicIp` global unicast, `privateIp` RFC 1918",
    kind: "inventory",
    fix: "correct the address",
    rewrites: false,
    left: (key) => /^hosts\[\d+\]\.(public|private)Ip$/.test(key),
  },
  {
    title: "Host classes: `egressGbps` ≥ 0.1 and at least 3 `cores`",
    kind: "inventory",
    fix: "set the real figure",
    rewrites: false,
    left: (key) => /^hostClasses\.[^.]+\.(egressGbps|cores)$/.test(key),
  },
  {
    title: "`effectFloor` is a share of the source's mean",
    kind: "runbook",
    fix: "divide the old figure by the source's usual value (0.0025 of loss over a 0.5 % baseline → 0.5)",
    rewrites: false,
    left: (key) => /\.effectFloor$/.test(key),
  },
  {
    title: "`region` must be the media region of its traffic stack",
    kind: "runbook",
    fix: "name the split's media region and pools",
    rewrites: false,
    left: (key) => key === "region" || key === "source" || key === "target" || key === "traffic",
  },
  {
    title: "Ranges on durations, thresholds and effect floors",
    kind: "runbook",
    fix: "bring the value into the range the message gives",
    rewrites: false,
    left: (key) => /\.(bake|maxBake|interval|healthyWithin|maxWait|duration|threshold)$/.test(key),
  },
];

/** The entry a problem the loader still reports belongs to, if any. */
export function entryOf(kind: InputKind, problem: Problem): ChangelogEntry | undefined {
  const key = formatKeyPath(problem.path);
  return CHANGELOG.find((e) => (e.kind === kind || e.kind === "any") && e.left?.(key, problem));
}

export const entryTitled = (title: string): ChangelogEntry => {
  const entry = CHANGELOG.find((e) => e.title === title);
  if (!entry) throw new Error(`no Changelog entry titled ${title}`);
  return entry;
};
