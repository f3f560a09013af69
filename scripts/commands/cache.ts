/** avfleet cache prune — keep the Plan cache within its age and size. */
import { join } from "node:path";
import { gitRoot } from "../../modules/diff/run";
import { PLAN_CACHE_ROOT, PlanCache, PRUNE_DEFAULTS } from "../../modules/evaluation/cache";
import { EXIT, UsageError, parseCommandArgs, type Command } from "../cli";

export const command: Command = {
  summary: "prune the Plan cache (.avfleet/cache) by age and size",
  help: `
Usage: avfleet cache prune [--max-age DAYS] [--max-size MIB] [--json]

The cache in <checkout>/.avfleet/cache holds Plans (by a hash of the files each stack's
evaluation used), the manifests that find them, and the compiled Plan workers. Pruning
removes what was not used for DAYS, then the least recently used until at most MIB remain.
avfleet diff prunes with the defaults after every run.

Options:
  --max-age DAYS  remove entries unused for longer (default ${PRUNE_DEFAULTS.maxAgeDays})
  --max-size MIB  then keep at most this much (default ${PRUNE_DEFAULTS.maxMiB})
  --json          {"removedFiles","removedBytes","keptFiles","keptBytes"}

Examples:
  avfleet cache prune
  avfleet cache prune --max-age 3 --max-size 256`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      "max-age": { type: "string" },
      "max-size": { type: "string" },
      json: { type: "boolean" },
    });
    if (positionals[0] !== "prune" || positionals.length > 1) {
      throw new UsageError(`expected "cache prune", got "cache ${positionals.join(" ")}"`);
    }
    const number = (option: string, text: string | undefined) => {
      if (text === undefined) return undefined;
      const value = Number(text);
      if (!/^\d+(\.\d+)?$/.test(text) || !(value >= 0)) {
        throw new UsageError(`--${option} is "${text}", expected a number >= 0`);
      }
      return value;
    };
    const cache = new PlanCache(join(gitRoot(process.cwd()), PLAN_CACHE_ROOT));
    const result = cache.prune({
      maxAgeDays: number("max-age", values["max-age"]),
      maxMiB: number("max-size", values["max-size"]),
    });
    const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
    process.stdout.write(
      values.json
        ? `${JSON.stringify(result)}\n`
        : `cache ${cache.root}: removed ${result.removedFiles} files (${mib(result.removedBytes)} MiB), kept ${result.keptFiles} (${mib(result.keptBytes)} MiB)\n`,
    );
    return EXIT.ok;
  },
};
