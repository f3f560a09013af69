/**
 * What tuning and capacity derive from a fleet spec and each host class (or machine type),
 * checked when the stack file is read, and a bare-metal stack's inventory read beside it.
 */
import { existsSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import { baseHostsRequired } from "../capacity/capacity";
import type { FleetSpec, MetalFleetSpec } from "../config/fleet.schema";
import { inFile, type FileProblem, type KeyPath } from "../inputs/problems";
import { readInventory } from "../inventory/inventory";
import type { Inventory } from "../inventory/inventory";
import { machineType } from "../machines/machine-types";
import { fleetHardware, hostFacts } from "../tuning/host-facts";
import { hostFactsProblems } from "../tuning/schema";

/** Which input key a derived host fact comes from, for a bare-metal host class or a cloud fleet. */
function derivedFrom(fact: string, kind: FleetSpec["kind"]): "hardware" | string {
  switch (fact) {
    case "cores":
    case "mediaWorkerCpus":
      return kind === "metal" ? "cores" : "hardware";
    case "rxQueues":
    case "txQueues":
      return kind === "metal" ? "nicQueues" : "hardware";
    case "nicDriver":
    case "interfaces":
      return kind === "metal" ? fact : "hardware";
    case "packetsPerSecond":
      return kind === "metal" ? "streamsPerHost" : "demand";
    default:
      return fact;
  }
}

/**
 * The fleet keys derivedProblems needs (through fleetHardware and hostFacts); the workload it
 * reads too can be left out (validateStackDocument).
 */
export const DERIVED_FROM = ["kind", "demand", "tuning", "ports", "machineType", "instanceType"];

/** Most hosts any demand may need: beyond it the capacity plan would count for minutes. */
export const MAX_HOSTS_REQUIRED = 1_000_000;

/**
 * What tuning and capacity derive from the fleet spec and each host class (or machine type),
 * checked with the same rules they use, and reported at the input key the value comes from.
 */
export function derivedProblems(
  file: string,
  fleet: FleetSpec,
  at: KeyPath,
  inventory?: { file: string; document: Inventory },
): FileProblem[] {
  const problems: FileProblem[] = [];
  const hardware = fleetHardware(fleet, inventory?.document.hostClasses);
  for (const [name, host] of hardware) {
    const facts = hostFacts(fleet, host);
    const inClass = fleet.kind === "metal" && inventory !== undefined;
    for (const p of hostFactsProblems(facts)) {
      const fact = String(p.path[0]);
      const source = derivedFrom(fact, fleet.kind);
      const expected =
        fact === "mediaWorkerCpus"
          ? `a core count that leaves media workers beside the CPUs kept for interrupts (max(2, cores/8)): at least 3`
          : p.expected;
      const derived = `the tuning derives ${fact} ${JSON.stringify((facts as Record<string, unknown>)[fact])}, which ${p.message}`;
      if (source === "stallMs" || source === "mediaUdpPorts") {
        const key = source === "stallMs" ? ["tuning", "stallMs"] : ["ports", "mediaUdp"];
        problems.push({
          file,
          path: [...at, ...key],
          message: `with ${name}: ${derived}`,
          expected,
        });
      } else if (inClass) {
        const value = (inventory.document.hostClasses[name] as Record<string, unknown>)[source];
        problems.push({
          file: inventory.file,
          path: ["hostClasses", name, source],
          message: `is ${JSON.stringify(value)}: ${derived}${source === "streamsPerHost" ? ` (with demand ${JSON.stringify(fleet.demand)} of ${file})` : ""}`,
          expected,
        });
      } else {
        const key =
          source === "hardware" ? (fleet.kind === "gcp" ? "machineType" : "instanceType") : source;
        problems.push({
          file,
          path: [...at, key],
          message: `with ${name}: ${derived}`,
          expected,
        });
      }
    }
    const egressGbps = inClass
      ? inventory.document.hostClasses[name].egressGbps
      : machineType(name).egressGbps;
    const needed = baseHostsRequired(fleet.demand, {
      streamsPerHost: host.streamsPerHost,
      egressGbps,
    });
    if (!(needed <= MAX_HOSTS_REQUIRED)) {
      problems.push({
        file,
        path: [...at, "demand"],
        message: `needs ${needed} hosts of ${name} at the peak`,
        expected: `a demand that at most ${MAX_HOSTS_REQUIRED} hosts carry (check peakParticipants, streamsPerParticipant and avgStreamKbps)`,
      });
    }
  }
  return problems;
}

/** The stack file's inventory, resolved against the project root (where Pulumi runs). */
export function inventoryFile(fleet: MetalFleetSpec, stacksDir: string): string {
  return join(dirname(stacksDir), fleet.inventory);
}

/**
 * Where the inventory really is, symbolic links followed, or why it may not be read: the
 * schema keeps the path itself inside the project, but a link inside it may point anywhere.
 */
function confinedInventory(
  fleet: MetalFleetSpec,
  stacksDir: string,
): { file: string } | { problem: string } {
  const path = inventoryFile(fleet, stacksDir);
  if (!existsSync(path)) return { problem: `which does not exist (looked for ${path})` };
  const root = realpathSync(dirname(stacksDir));
  const real = realpathSync(path);
  const inside = relative(root, real);
  return inside === ".." || inside.startsWith(`..${sep}`) || isAbsolute(inside)
    ? { problem: `which resolves to ${real}, outside the project ${root}` }
    : { file: path };
}

export function metalProblems(
  file: string,
  fleet: MetalFleetSpec,
  at: KeyPath,
  stacksDir: string,
  /** False when the schema refused a key derived values read: they would be built on it. */
  derive: boolean,
): { problems: FileProblem[]; inventory?: Inventory } {
  const found = confinedInventory(fleet, stacksDir);
  if ("problem" in found) {
    return {
      problems: inFile(file, [
        {
          path: [...at, "inventory"],
          message: `is "${fleet.inventory}", ${found.problem}`,
          expected: "the path of this site's host inventory, a file inside the project",
        },
      ]),
    };
  }
  const path = found.file;
  const { value, problems } = readInventory(path);
  if (!value) return { problems };
  if (typeof value.site === "string" && value.site !== fleet.site) {
    problems.push({
      file,
      path: [...at, "site"],
      message: `is "${fleet.site}", but ${fleet.inventory} is the inventory of site "${value.site}"`,
      expected: "the site of the inventory it names",
    });
  }
  if (!derive) return { problems };
  // Only host classes the inventory's own checks accepted: a derived value of a refused one
  // would restate its problem.
  const refused = new Set(
    problems.filter((p) => p.path[0] === "hostClasses").map((p) => String(p.path[1])),
  );
  const hostClasses = Object.fromEntries(
    Object.entries(value.hostClasses ?? {}).filter(([name]) => !refused.has(name)),
  );
  problems.push(
    ...derivedProblems(file, fleet, at, {
      file: path,
      document: { ...value, hostClasses },
    }),
  );
  return { problems, inventory: problems.length === 0 ? value : undefined };
}
