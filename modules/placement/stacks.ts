/**
 * The stack changes that realize a placement: a fleet stack for each newly opened site (from
 * its template), new demand and host bounds for existing ones, and per media region the join
 * record's steering the provider can serve. Rendered as whole files beside stacks/, never
 * over it; every proposed file passes the stack-file schema and checks before it is shown.
 */
import { existsSync, readFileSync } from "node:fs";
import YAML from "yaml";
import { listStacks, loadStackFile, stackFileName, validateStackDocument } from "../stacks/stack";
import { stackFileSchema } from "../stacks/stack.schema";
import type { TrafficSpec } from "../config/traffic";
import { assertNoProblems, InputError } from "../inputs/problems";
import { schemaProblems } from "../inputs/validate";
import { steeringProblems } from "../config/traffic";
import type { Evaluation } from "./evaluate";
import type { Instance, Site } from "./instance";

export interface StackChange {
  stack: string;
  /** The file's text today (undefined for a new stack). */
  before?: string;
  after: string;
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

/** The repository's YAML style (prettier's): `{ a: 1 }` but `[a, b]`. */
function render(doc: YAML.Document): string {
  return doc.toString({ lineWidth: 100 }).replace(/\[ ([^[\]\n]*?) \]/g, "[$1]");
}

function fleetChange(
  site: Site,
  hosts: number,
  sessions: number,
  stacksDir: string,
): StackChange | undefined {
  const spec = site.spec;
  const file = stackFileName(stacksDir, spec.stack);
  const isNew = !spec.exists;
  const source = isNew ? stackFileName(stacksDir, spec.newStack!.template) : file;
  const before = isNew ? undefined : readFileSync(file, "utf8");
  const doc = YAML.parseDocument(readFileSync(source, "utf8"));
  if (isNew) {
    // The template's own header describes the template's site, not this one.
    if (YAML.isNode(doc.contents)) doc.contents.commentBefore = null;
    doc.commentBefore = ` ${spec.stack}: new ${spec.provider} media site proposed by \`avfleet place\` (template: ${spec.newStack!.template}).`;
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
  }
  doc.setIn([...FLEET, "demand", "peakParticipants"], sessions);
  if (spec.provider !== "metal") {
    doc.setIn([...FLEET, "maxHosts"], hosts);
    const minHosts = doc.getIn([...FLEET, "minHosts"]) as number | undefined;
    if (minHosts === undefined || minHosts > hosts)
      doc.setIn([...FLEET, "minHosts"], Math.min(site.minHosts, hosts));
  }
  const after = render(doc);
  if (after === before) return undefined;
  try {
    validateStackDocument(file, doc.toJS(), stacksDir);
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
    why: isNew
      ? `new site ${spec.name}: ${hosts} hosts for ${sessions} peak sessions`
      : `${spec.name}: sized for ${sessions} peak sessions${spec.provider === "metal" ? "" : `, maxHosts ${hosts}`}`,
  };
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
  const traffic = listStacks(stacksDir)
    .map((name) => ({ name, file: stackFileName(stacksDir, name) }))
    .map((s) => ({ ...s, spec: loadStackFile(s.file).traffic }))
    .find((s) => s.spec?.mediaRegion === region);
  if (!traffic) {
    notes.push(
      `media region ${region} has no traffic stack: create one for ${sites.map((s) => s.spec.stack).join(", ")}`,
    );
    return undefined;
  }
  const spec = traffic.spec!;
  const serving = spec.pools.filter((p) => p.weight > 0);
  const canary = serving.length > 1 && (spec.dns.routing ?? "weighted") === "weighted";
  if (canary) {
    notes.push(
      `${traffic.name}: a weighted canary runs on ${spec.dns.recordName} (${serving.map((p) => `${p.stack} ${p.weight}`).join(", ")}); geo steering on that name waits until it ends${spec.dns.provider === "clouddns" ? " (Cloud DNS cannot combine WRR and geolocation)" : ""}`,
    );
    return undefined;
  }
  const before = readFileSync(traffic.file, "utf8");
  const doc = YAML.parseDocument(before);
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
  doc.setIn(["config", "avfleet:traffic", "dns", "routing"], routing);
  doc.setIn(["config", "avfleet:traffic", "pools"], doc.createNode(pools, { flow: false }));
  const after = render(doc);
  if (after === before) return undefined;
  const json = doc.toJS();
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
      const change = fleetChange(site, e.hosts, e.sizedLoad, stacksDir);
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
