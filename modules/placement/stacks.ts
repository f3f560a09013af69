/**
 * The stack changes that realize a placement: a fleet stack for each newly opened site (from
 * its template), new demand and host bounds for existing ones, and per media region the join
 * record's steering the provider can serve. Rendered as whole files beside stacks/, never
 * over it; every proposed file passes the stack-file schema and checks before it is shown.
 * An existing file changes only at the keys the proposal sets (yaml-edit.ts); a new one is
 * its template without the template's comments, which describe the template's site.
 */
import { existsSync, readFileSync } from "node:fs";
import YAML from "yaml";
import { listStacks, loadStackFile, stackFileName, validateStackDocument } from "../stacks/stack";
import { stackFileSchema } from "../stacks/stack.schema";
import type { TrafficSpec } from "../config/traffic";
import { assertNoProblems, InputError } from "../inputs/problems";
import { schemaProblems } from "../inputs/validate";
import { steeringProblems } from "../config/traffic";
import type { Evaluation } from "../siting/evaluate";
import type { Instance, Site } from "../siting/instance";
import { renderDocument, setInText } from "./yaml-edit";

export interface StackChange {
  stack: string;
  /** The file's text today (undefined for a new stack). */
  before?: string;
  after: string;
  /** `after` parsed: what the cross-check against splits and runbooks reads. */
  proposed: { config: Record<string, unknown> };
  why: string;
}

export interface Proposal {
  changes: StackChange[];
  /** What the proposal leaves to a person: closed sites, canaries in flight. */
  notes: string[];
}

type Json = Record<string, unknown>;

/** Sets every leaf of `values` at its key path, so comments elsewhere in the file stay. */
function setLeaves(doc: YAML.Document, path: string[], values: unknown): void {
  if (values !== null && typeof values === "object" && !Array.isArray(values)) {
    for (const [key, value] of Object.entries(values as Json))
      setLeaves(doc, [...path, key], value);
  } else doc.setIn(path, values);
}

const FLEET = ["config", "avfleet:fleet"];

/**
 * A new site's stack: the template's keys with the site's own set, and none of the template's
 * comments — they name its region, city and migration (an "Oregon" header on a us-central1
 * stack), and no rule can tell which of them would still hold.
 */
function newStackText(site: Site, stacksDir: string, notes: string[]): string {
  const spec = site.spec;
  const template = spec.newStack!.template;
  const doc = YAML.parseDocument(readFileSync(stackFileName(stacksDir, template), "utf8"));
  const names = templateNames(template, doc.toJS().config);
  YAML.visit(doc, {
    Node(_, node) {
      node.commentBefore = undefined;
      node.comment = undefined;
    },
  });
  doc.comment = null;
  doc.commentBefore = [
    ` ${spec.stack}: new ${spec.provider} media site in ${spec.region ?? spec.mediaRegion}, proposed by \`avfleet place\`.`,
    " Keys its sites-file entry does not set come from its newStack.template, without that",
    " stack's comments (they describe the template's site). Check every copied value.",
  ].join("\n");
  setLeaves(doc, [], { config: spec.newStack!.config ?? {} });
  if (spec.provider === "gcp") doc.setIn(["config", "gcp:region"], spec.region);
  if (spec.provider === "aws") doc.setIn(["config", "aws:region"], spec.region);
  doc.setIn([...FLEET, "mediaRegion"], spec.mediaRegion);
  if (spec.machineType) {
    doc.setIn(
      [...FLEET, spec.provider === "aws" ? "instanceType" : "machineType"],
      spec.machineType,
    );
  }
  for (const [path, value, name] of leavesNaming(doc.toJS(), names, [])) {
    notes.push(
      `${spec.stack}: ${path.join(".")} is "${value}", copied from stack ${template} and naming it (${name}): set it in the site's newStack.config`,
    );
  }
  return renderDocument(doc);
}

/** What names a template's own site: its stack, project, region, pool and endpoint. */
function templateNames(template: string, config: Json): string[] {
  const fleet = (config["avfleet:fleet"] ?? {}) as Json;
  const names = [template, config["gcp:project"], config["gcp:region"], config["aws:region"]];
  return [...names, fleet.pool, fleet.endpoint].filter((n): n is string => typeof n === "string");
}

/** The string values that still name the template's site, with their key paths. */
function leavesNaming(
  value: unknown,
  names: string[],
  path: string[],
): [string[], string, string][] {
  if (typeof value === "string") {
    const name = names.find((n) => value.includes(n));
    return name ? [[path, value, name]] : [];
  }
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, v]) => leavesNaming(v, names, [...path, key]));
}

function fleetChange(
  site: Site,
  hosts: number,
  sessions: number,
  stacksDir: string,
  notes: string[],
): StackChange | undefined {
  const spec = site.spec;
  const file = stackFileName(stacksDir, spec.stack);
  const isNew = !spec.exists;
  const before = isNew ? undefined : readFileSync(file, "utf8");
  let after = before ?? newStackText(site, stacksDir, notes);
  after = setInText(after, [...FLEET, "demand", "peakParticipants"], sessions);
  if (spec.provider !== "metal") {
    after = setInText(after, [...FLEET, "maxHosts"], hosts);
    const minHosts = YAML.parse(after).config["avfleet:fleet"].minHosts as number | undefined;
    if (minHosts === undefined || minHosts > hosts)
      after = setInText(after, [...FLEET, "minHosts"], Math.min(site.minHosts, hosts));
  }
  if (after === before) return undefined;
  const proposed = YAML.parse(after);
  try {
    validateStackDocument(file, proposed, stacksDir);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    throw new InputError(
      err.lines.map((line) => `proposed ${line} (from site ${spec.name} of the sites file)`),
    );
  }
  return {
    stack: spec.stack,
    before,
    after,
    proposed,
    why: isNew
      ? `new site ${spec.name}: ${hosts} hosts for ${sessions} peak sessions (from template ${spec.newStack!.template})`
      : `${spec.name}: sized for ${sessions} peak sessions${spec.provider === "metal" ? "" : `, maxHosts ${hosts}`}`,
  };
}

/** Every traffic split of the stacks directory as it is today. */
export function trafficSplits(
  stacksDir: string,
): { name: string; file: string; spec: TrafficSpec }[] {
  return listStacks(stacksDir).flatMap((name) => {
    const file = stackFileName(stacksDir, name);
    const spec = loadStackFile(file).traffic;
    return spec ? [{ name, file, spec }] : [];
  });
}

/** The geo field a pool needs for the provider's routing. */
function poolGeo(site: Site, routing: string): TrafficSpec["pools"][number]["geo"] | undefined {
  const spec = site.spec;
  if (routing === "geolocation") {
    const gcpRegion = spec.gcpRegion ?? (spec.provider === "gcp" ? spec.region : undefined);
    return gcpRegion ? { gcpRegion } : undefined;
  }
  return spec.provider === "aws" ? { awsRegion: spec.region } : { lat: spec.lat, lon: spec.lon };
}

function trafficChange(
  region: string,
  sites: Site[],
  stacksDir: string,
  notes: string[],
): StackChange | undefined {
  const traffic = trafficSplits(stacksDir).find((s) => s.spec.mediaRegion === region);
  if (!traffic) {
    notes.push(
      `media region ${region} has no traffic stack: create one for ${sites.map((s) => s.spec.stack).join(", ")}`,
    );
    return undefined;
  }
  const spec = traffic.spec;
  const serving = spec.pools.filter((p) => p.weight > 0);
  const canary = serving.length > 1 && (spec.dns.routing ?? "weighted") === "weighted";
  if (canary) {
    notes.push(
      `${traffic.name}: a weighted canary runs on ${spec.dns.recordName} (${serving.map((p) => `${p.stack} ${p.weight}`).join(", ")}); geo steering on that name waits until it ends${spec.dns.provider === "clouddns" ? " (Cloud DNS cannot combine WRR and geolocation)" : ""}`,
    );
    return undefined;
  }
  const before = readFileSync(traffic.file, "utf8");
  let routing: string = "weighted";
  let pools: TrafficSpec["pools"];
  if (sites.length === 1) {
    pools = [{ stack: sites[0].spec.stack, weight: 100 }];
  } else {
    routing = spec.dns.provider === "route53" ? "geoproximity" : "geolocation";
    const missing = sites.filter((s) => !poolGeo(s, routing));
    if (missing.length > 0) {
      notes.push(
        `${traffic.name}: Cloud DNS geolocation needs gcpRegion for ${missing.map((s) => s.name).join(", ")} in the sites file`,
      );
      return undefined;
    }
    pools = sites.map((s) => ({ stack: s.spec.stack, weight: 100, geo: poolGeo(s, routing) }));
  }
  const at = ["config", "avfleet:traffic"];
  const after = setInText(
    setInText(before, [...at, "dns", "routing"], routing),
    [...at, "pools"],
    pools,
  );
  if (after === before) return undefined;
  const json = YAML.parse(after);
  // Pools may be stacks this proposal creates, so only the schema and the steering rules apply.
  assertNoProblems(traffic.file, schemaProblems(stackFileSchema, json));
  assertNoProblems(
    traffic.file,
    steeringProblems(json.config["avfleet:traffic"], ["config", "avfleet:traffic"]),
  );
  return {
    stack: traffic.name,
    before,
    after,
    proposed: json,
    why: `${region}: ${routing} steering over ${sites.map((s) => s.spec.stack).join(", ")}`,
  };
}

export function proposeStacks(
  instance: Instance,
  evaluation: Evaluation,
  stacksDir: string,
): Proposal {
  const changes: StackChange[] = [];
  const notes: string[] = [];
  const regions = new Map<string, Site[]>();
  instance.sites.forEach((site, s) => {
    const e = evaluation.sites[s];
    if (e.hosts === 0) {
      if (site.spec.exists) {
        notes.push(
          `${site.name} (${site.spec.stack}) carries nothing in this placement: move its traffic off (a runbook) before decommissioning`,
        );
      }
      return;
    }
    if (site.spec.exists && !existsSync(stackFileName(stacksDir, site.spec.stack))) {
      notes.push(
        `${site.name}: stack ${site.spec.stack} is marked existing but has no file in ${stacksDir}`,
      );
    } else {
      const change = fleetChange(site, e.hosts, e.sizedLoad, stacksDir, notes);
      if (change) changes.push(change);
    }
    // A site that only stands by for another's loss needs no record of its own.
    if (e.load > 0)
      regions.set(site.spec.mediaRegion, [...(regions.get(site.spec.mediaRegion) ?? []), site]);
  });
  for (const [region, sites] of regions) {
    const change = trafficChange(region, sites, stacksDir, notes);
    if (change) changes.push(change);
  }
  return { changes, notes };
}
