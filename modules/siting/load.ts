/**
 * Reads the placement inputs through the shared reading path (YAML → JSON Schema → semantic
 * checks), every problem reported at once as `<file>: <key path>: <what>, expected <what>`.
 */
import { machineTypeNames } from "../machines/machine-types";
import { assertNoProblems, type Problem } from "../inputs/problems";
import { readYamlFile } from "../inputs/yaml-read";
import { schemaProblems } from "../inputs/validate";
import { demandSchema, type DemandFile } from "./demand.schema";
import type { RttFile } from "../latency/rtt.schema";
import { sitesSchema, type SitesFile } from "./sites.schema";

function duplicateNames(items: { name: string }[], key: string, what: string): Problem[] {
  const first = new Map<string, number>();
  const problems: Problem[] = [];
  items.forEach((item, i) => {
    const seen = first.get(item.name);
    if (seen === undefined) first.set(item.name, i);
    else
      problems.push({
        path: [key, i, "name"],
        message: `is "${item.name}", already used by ${key}[${seen}]`,
        expected: `a ${what} name used once`,
      });
  });
  return problems;
}

export function loadDemand(file: string): DemandFile {
  const document = readYamlFile(file, "a demand file {session, metros}");
  assertNoProblems(file, schemaProblems(demandSchema, document));
  const demand = document as DemandFile;
  const problems = duplicateNames(demand.metros, "metros", "metro");
  if (demand.metros.every((m) => m.peakSessions === 0)) {
    problems.push({
      path: ["metros"],
      message: "has no sessions",
      expected: "some peakSessions > 0",
    });
  }
  assertNoProblems(file, problems);
  return demand;
}

export function siteProblems(sites: SitesFile): Problem[] {
  const problems = duplicateNames(sites.sites, "sites", "site");
  sites.sites.forEach((site, i) => {
    const at = (key: string) => ["sites", i, key];
    if (site.provider === "metal") {
      for (const key of [
        "hostHourlyUsd",
        "egressUsdPerGb",
        "streamsPerHost",
        "egressGbpsPerHost",
      ] as const) {
        if (site[key] === undefined) {
          problems.push({
            path: at(key),
            message: "is missing",
            expected: `a metal site's ${key}`,
          });
        }
      }
    } else {
      const names = machineTypeNames(site.provider);
      if (site.machineType === undefined) {
        problems.push({
          path: at("machineType"),
          message: "is missing",
          expected: `one of ${names.join(", ")}`,
        });
      } else if (!names.includes(site.machineType)) {
        problems.push({
          path: at("machineType"),
          message: `is "${site.machineType}", not a ${site.provider} type of the capacity table`,
          expected: `one of ${names.join(", ")}`,
        });
      }
      if (site.region === undefined) {
        problems.push({
          path: at("region"),
          message: "is missing",
          expected: `the ${site.provider} region`,
        });
      }
    }
    if ((site.minHosts ?? 0) > site.maxHosts) {
      problems.push({
        path: at("minHosts"),
        message: `is ${site.minHosts}, more than maxHosts ${site.maxHosts}`,
        expected: "minHosts ≤ maxHosts",
      });
    }
    if (!site.exists && site.newStack === undefined) {
      problems.push({
        path: at("newStack"),
        message: "is missing",
        expected: "for a site that does not exist yet, {template, config} to write its stack from",
      });
    }
  });
  return problems;
}

export function loadSites(file: string): SitesFile {
  const document = readYamlFile(file, "a sites file {sites}");
  assertNoProblems(file, schemaProblems(sitesSchema, document));
  const sites = document as SitesFile;
  assertNoProblems(file, siteProblems(sites));
  return sites;
}

/** clientP95 measurements must name a metro and a site of this run. */
export function measuredPairProblems(
  rtt: RttFile,
  demand: DemandFile,
  sites: SitesFile,
): Problem[] {
  const metros = demand.metros.map((m) => m.name);
  const siteNames = sites.sites.map((s) => s.name);
  const problems: Problem[] = [];
  (rtt.clientP95 ?? []).forEach(([metro, site], i) => {
    if (!metros.includes(metro)) {
      problems.push({
        path: ["clientP95", i, 0],
        message: `is "${metro}", not a metro of the demand file`,
        expected: "a metro name",
      });
    }
    if (!siteNames.includes(site)) {
      problems.push({
        path: ["clientP95", i, 1],
        message: `is "${site}", not a site of the sites file`,
        expected: "a site name",
      });
    }
  });
  return problems;
}
