/**
 * --dry-run: every step's changes as Pulumi previews against a throwaway copy of each stack's
 * config (`--config-file`), so nothing real changes; bakes, drains, waits and approvals are
 * described, not waited for. No journal, no lock.
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Unit } from "../runbook/plan";
import { commandLine, pulumiArgs, setMinHostsArgs, setWeightsArgs } from "../runbook/pulumi-args";
import { summarize, type PulumiRunner } from "./pulumi";
import type { LoadedRunbook } from "../runbook/runbook";
import { stackFileName } from "../stacks/stack";

export interface DryRunResult {
  ok: boolean;
  commands: { unit: string; argv: string[]; exitCode: number; summary: string }[];
}

/** A unit's calls with every change previewed; waits and approvals have none. */
function calls(loaded: LoadedRunbook, unit: Unit, copyOf: (stack: string) => string): string[][] {
  const { traffic, target } = loaded.runbook;
  switch (unit.kind) {
    case "preflight":
      return unit.commands; // reads and a policy preview already
    case "scale":
      return [
        setMinHostsArgs(target, unit.minHosts, undefined, copyOf(target)),
        pulumiArgs.preview(target, copyOf(target)),
      ];
    case "shift":
    case "drain":
      return [
        ...unit.floors.flatMap((f) => [
          setMinHostsArgs(f.stack, f.minHosts, undefined, copyOf(f.stack)),
          pulumiArgs.preview(f.stack, copyOf(f.stack)),
        ]),
        setWeightsArgs(traffic, loaded.traffic.pools, unit.weights, undefined, copyOf(traffic)),
        pulumiArgs.preview(traffic, copyOf(traffic)),
      ];
    case "decommission":
      return [pulumiArgs.destroyPreview(unit.stack)];
    default:
      return [];
  }
}

export async function dryRun(
  loaded: LoadedRunbook,
  units: Unit[],
  pulumi: PulumiRunner,
  onLine: (line: string) => void,
): Promise<DryRunResult> {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-dry-run-"));
  const copies = new Map<string, string>();
  const copyOf = (stack: string) => {
    if (!copies.has(stack)) {
      const copy = join(dir, `Pulumi.${stack}.yaml`);
      copyFileSync(stackFileName(loaded.stacksDir, stack), copy);
      copies.set(stack, copy);
    }
    return copies.get(stack)!;
  };
  const result: DryRunResult = { ok: true, commands: [] };
  try {
    for (const unit of units) {
      onLine(`step ${unit.id}/${units.length}: ${unit.title}`);
      for (const args of calls(loaded, unit, copyOf)) {
        const r = await pulumi(args);
        const summary = summarize(r);
        result.commands.push({
          unit: unit.id,
          argv: ["pulumi", ...args],
          exitCode: r.exitCode,
          summary,
        });
        onLine(`  $ ${commandLine(args)} → exit ${r.exitCode}${summary ? `: ${summary}` : ""}`);
        if (r.exitCode !== 0) {
          result.ok = false;
          return result;
        }
      }
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
