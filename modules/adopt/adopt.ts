/**
 * `avfleet adopt`: the `pulumi import --file` document that brings a stack's existing DNS
 * records into its state under the very URNs the program declares them with, so that the next
 * `up` updates them in place instead of creating them (a Cloud DNS RecordSet's create
 * overwrites the live record) and deleting the imported copy.
 *
 * What it reads is the program's own Plan (evaluated under Pulumi's mocks): each record's
 * type, name and parent chain are the program's, its import id is built from its inputs.
 */
import type { Plan, PlanResource } from "../plan/plan";
import { cloudDnsImportId } from "../fleets/metal-args";
import { STACK_FACTS_TYPE } from "../../policy/contract/facts";
import { placeholderReason } from "../../policy/contract/placeholders";

export const ROUTE53_RECORD = "aws:route53/record:Record";
export const CLOUD_DNS_RECORD = "gcp:dns/recordSet:RecordSet";

/**
 * One entry of an import file, as the CLI reads it (pulumi/pulumi 1b59498
 * pkg/cmd/pulumi/operations/import.go, importSpec lines 206-236 and importFile 255-264): a
 * `parent` names another entry (or a nameTable key); `component: true` creates an empty
 * component, which takes no id (parseImportFile, lines 395-409). Both since CLI v3.94.0
 * (pulumi/pulumi#14461, #14467, #14524).
 */
export interface ImportSpec {
  type: string;
  name: string;
  id?: string;
  parent?: string;
  component?: true;
  /**
   * The provider plugin version to read the record with (importSpec.Version, line 212):
   * without it the import uses the package's unversioned default provider
   * (pkg/resource/deploy/import.go:721-730), not the one the program runs.
   */
  version?: string;
  /** The resource's name in the program, where `name` had to be made unique in the file. */
  logicalName?: string;
}

export interface ImportFile {
  resources: ImportSpec[];
}

/** A record the file adopts: where it lives in the program and what the provider calls it. */
export interface AdoptedRecord {
  urn: string;
  type: string;
  name: string;
  id: string;
  /** The component the program declares it under; the stack's root when absent. */
  parentUrn?: string;
}

/** An import id part that is a placeholder: `pulumi import` would fail to read the record. */
export interface PlaceholderId {
  /** The record's resource name. */
  record: string;
  /** The record input the id is built from. */
  input: string;
  value: string;
  reason: string;
  /** The stack config keys (StackFacts.settings) the value comes from, where one matches. */
  keys: string[];
}

export interface Adoption {
  stack: string;
  /** The stack file says it is an example (avfleet:example): its ids may be placeholders. */
  example: boolean;
  records: AdoptedRecord[];
  /** Import ids resting on placeholder values (the pack's placeholderReason). */
  placeholders: PlaceholderId[];
  file: ImportFile;
}

/** Provider plugin versions by package (aws, gcp), as the program's installed SDKs pin them. */
export type ProviderVersions = Record<string, string>;

const text = (r: PlanResource, key: string): string => {
  const value = r.inputs[key];
  if (typeof value !== "string" || value === "") {
    throw new Error(`${r.urn}: input ${key} is ${JSON.stringify(value)}, expected a string`);
  }
  return value;
};

/** The record inputs its import id is built from (importId). */
const ID_INPUTS: Record<string, string[]> = {
  [ROUTE53_RECORD]: ["zoneId", "name", "type", "setIdentifier"],
  [CLOUD_DNS_RECORD]: ["project", "managedZone", "name", "type"],
};

/**
 * The placeholder values a record's import id rests on (a made-up zone id such as
 * Z04517273OFFLINE, a name under example.net): on a real run `pulumi import` fails reading it
 * (NoSuchHostedZone). Detected as the pack detects placeholders; each is traced to the config
 * keys whose values it holds.
 */
function placeholderIds(r: PlanResource, settings: Record<string, string>): PlaceholderId[] {
  return (ID_INPUTS[r.type] ?? []).flatMap((input) => {
    const value = r.inputs[input];
    const reason = typeof value === "string" ? placeholderReason(value) : undefined;
    if (typeof value !== "string" || !reason) return [];
    const keys = Object.entries(settings)
      .filter(([, v]) => v !== "" && placeholderReason(v) && value.includes(v.replace(/\.$/, "")))
      .map(([key]) => key);
    return [{ record: r.name, input, value, reason, keys }];
  });
}

/**
 * The id `pulumi import` reads a record by. Route53: ZONEID_NAME_TYPE, then _SETID for a
 * record with a set identifier (@pulumi/aws 7.48.0 route53/record.d.ts, "Import"). Cloud DNS:
 * projects/P/managedZones/Z/rrsets/NAME/TYPE with NAME fully qualified, trailing dot included
 * (@pulumi/gcp 9.37.0 dns/recordSet.d.ts, "Import": "The record name must include the trailing
 * dot").
 */
export function importId(r: PlanResource): string {
  if (r.type === ROUTE53_RECORD) {
    const set = r.inputs.setIdentifier;
    const base = `${text(r, "zoneId")}_${text(r, "name")}_${text(r, "type")}`;
    return typeof set === "string" && set !== "" ? `${base}_${set}` : base;
  }
  if (r.type === CLOUD_DNS_RECORD) {
    const name = text(r, "name");
    return cloudDnsImportId(
      text(r, "project"),
      text(r, "managedZone"),
      name.endsWith(".") ? name : `${name}.`,
      text(r, "type"),
    );
  }
  throw new Error(`${r.urn}: ${r.type} is not a DNS record avfleet adopts`);
}

/**
 * The import file for a stack's DNS records, each with the components it is declared under
 * (created empty if the stack has none yet; skipped by the engine if it has them). Records the
 * program imports itself (a bare-metal site's `dns.adopt` on Cloud DNS) are left out: a
 * second import of one fails. `only` keeps the records of those names (those that exist).
 */
export function adoption(
  plan: Plan,
  versions: ProviderVersions,
  only?: readonly string[],
): Adoption {
  const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
  const records = plan.resources.filter(
    (r) =>
      (r.type === ROUTE53_RECORD || r.type === CLOUD_DNS_RECORD) &&
      r.importId === undefined &&
      (only === undefined || only.includes(r.name)),
  );
  const unknown = (only ?? []).filter((name) => !records.some((r) => r.name === name));
  if (unknown.length > 0) {
    const known = plan.resources
      .filter((r) => r.type === ROUTE53_RECORD || r.type === CLOUD_DNS_RECORD)
      .map((r) => r.name);
    throw new Error(
      `${plan.name} declares no DNS record named ${unknown.join(", ")} to adopt; its records: ${known.join(", ") || "(none)"}`,
    );
  }
  // Every record and its ancestors, parents first, each once.
  const entries: PlanResource[] = [];
  const seen = new Set<string>();
  const add = (r: PlanResource) => {
    if (seen.has(r.urn)) return;
    const parent = r.parent === undefined ? undefined : byUrn.get(r.parent);
    if (parent) add(parent);
    seen.add(r.urn);
    entries.push(r);
  };
  records.forEach(add);
  // A name refers to one entry; the program's names are unique per type, not per stack.
  const count = new Map<string, number>();
  for (const r of entries) count.set(r.name, (count.get(r.name) ?? 0) + 1);
  const fileName = new Map(
    entries.map((r) => [r.urn, count.get(r.name)! > 1 ? `${r.name}#${r.type}` : r.name]),
  );
  const versionOf = (r: PlanResource) => {
    const pkg = r.type.split(":")[0];
    const version = versions[pkg];
    if (!version) throw new Error(`${r.urn}: no installed version of the ${pkg} provider given`);
    return version;
  };
  const resources = entries.map((r): ImportSpec => {
    const name = fileName.get(r.urn)!;
    return {
      type: r.type,
      name,
      ...(name !== r.name ? { logicalName: r.name } : {}),
      ...(r.custom ? { id: importId(r), version: versionOf(r) } : { component: true as const }),
      ...(r.parent && fileName.has(r.parent) ? { parent: fileName.get(r.parent)! } : {}),
    };
  });
  const file = { resources };
  // The file must put each record where the program declares it, or the next up replaces it.
  const urns = importedUrns(file, plan.name, projectOf(plan));
  for (const r of entries) {
    const urn = urns.get(fileName.get(r.urn)!);
    if (urn !== r.urn) throw new Error(`the import file would give ${r.urn} the URN ${urn}`);
  }
  const facts = plan.resources.find((r) => r.type === STACK_FACTS_TYPE)?.inputs;
  const settings = (facts?.settings ?? {}) as Record<string, string>;
  return {
    stack: plan.name,
    example: facts?.example === true,
    placeholders: records.flatMap((r) => placeholderIds(r, settings)),
    records: records.map((r) => ({
      urn: r.urn,
      type: r.type,
      name: r.name,
      id: importId(r),
      ...(r.parent ? { parentUrn: r.parent } : {}),
    })),
    file,
  };
}

/** The parts of a URN: urn:pulumi:STACK::PROJECT::QUALIFIED-TYPE::NAME. */
const qualifiedType = (urn: string) => urn.split("::")[2];
const projectOf = (plan: Plan) => plan.resources[0]?.urn.split("::")[1] ?? "avfleet";

/**
 * The URN `pulumi import` gives each entry of a file, by its rules: the parent's qualified type
 * joined with `$` to the entry's type, its logical name (or name) last (import.go
 * parseImportFile lines 460-498; urn.New in sdk/go/common/resource/urn/urn.go lines 80-93).
 */
export function importedUrns(
  file: ImportFile,
  stack: string,
  project: string,
): Map<string, string> {
  const urns = new Map<string, string>();
  const urnOf = (spec: ImportSpec): string => {
    const known = urns.get(spec.name);
    if (known) return known;
    const parentSpec = spec.parent && file.resources.find((s) => s.name === spec.parent);
    if (spec.parent && !parentSpec) throw new Error(`${spec.name}: no entry ${spec.parent}`);
    const type = parentSpec ? `${qualifiedType(urnOf(parentSpec))}$${spec.type}` : spec.type;
    const urn = `urn:pulumi:${stack}::${project}::${type}::${spec.logicalName ?? spec.name}`;
    urns.set(spec.name, urn);
    return urn;
  };
  file.resources.forEach(urnOf);
  return urns;
}
