/**
 * The estate the lifecycle matrix runs on: every fleet stack of this project, evaluated as
 * `avfleet preview` evaluates it, and the variants some scenarios need (the same pool with a
 * container image, or with a two-hour or a four-hour drain), written as stack files of a temporary stacks
 * directory beside this project's inventories.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { DEFAULT_STACKS_DIR, loadStacks, stackFileName } from "../modules/stacks/stack";
import { evaluateStacks } from "../modules/evaluation/evaluate";
import { renderedPools, type RenderedPool } from "../modules/lifecycle/rendered";
import type { PoolRenderings } from "../modules/lifecycle/scenarios";
import { ROOT } from "../test/support/cli";

export const FLEET_STACKS = [
  "gcp-us-west1",
  "gcp-europe-west4",
  "aws-us-east-1",
  "aws-eu-central-1",
  "metal-sjc",
  "metal-ams",
];

type Doc = Record<string, any>;
type Variant = "container" | "longDrain" | "fourHourDrain";

const VARIANTS: Record<Variant, (fleet: Doc) => boolean> = {
  container(fleet) {
    if (fleet.kind === "metal") return false;
    const { package: _, aptSource: __, version, ...rest } = fleet.workload;
    const registry =
      fleet.kind === "gcp"
        ? "us-west1-docker.pkg.dev/media-prod/sfu/avfleet-sfu"
        : "123456789012.dkr.ecr.us-east-1.amazonaws.com/avfleet-sfu";
    fleet.workload = {
      ...rest,
      image: registry,
      version: String(version).replace(/-\d+$/, ""),
      digest: `sha256:${"ab".repeat(32)}`,
    };
    return true;
  },
  longDrain(fleet) {
    fleet.drainSeconds = 7200;
    return true;
  },
  // Past two hours: AWS's drain hook held by the agent's heartbeats, GCP's controller and a
  // bare-metal drain request with no limit of the provider's (#28).
  fourHourDrain(fleet) {
    fleet.drainSeconds = 14_400;
    return true;
  },
};

/**
 * The fleet stacks as rendered, each with its variants: by this checkout's program, or by the
 * one at `root` (another checkout: its rendering judged by this checkout's model).
 */
export async function lifecycleEstate(
  stacks = FLEET_STACKS,
  root = ROOT,
): Promise<PoolRenderings[]> {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-lifecycle-"));
  try {
    mkdirSync(join(dir, DEFAULT_STACKS_DIR));
    // A copy: a stack may not read an inventory through a link out of its project.
    cpSync(join(root, "inventory"), join(dir, "inventory"), { recursive: true });
    const names: string[] = [...stacks];
    for (const stack of stacks) {
      const text = readFileSync(stackFileName(join(root, DEFAULT_STACKS_DIR), stack), "utf8");
      writeFileSync(stackFileName(join(dir, DEFAULT_STACKS_DIR), stack), text);
      for (const [variant, change] of Object.entries(VARIANTS)) {
        const doc = YAML.parse(text) as Doc;
        if (!change(doc.config["avfleet:fleet"])) continue;
        const name = `${stack}-${variant.toLowerCase()}`;
        writeFileSync(stackFileName(join(dir, DEFAULT_STACKS_DIR), name), YAML.stringify(doc));
        names.push(name);
      }
    }
    const plans = await evaluateStacks(loadStacks(join(dir, DEFAULT_STACKS_DIR), names), { root });
    const pools = new Map<string, RenderedPool>(
      plans.map((p) => [p.name, renderedPools(p.resources)[0]]),
    );
    return stacks.map((stack) => ({
      base: pools.get(stack)!,
      container: pools.get(`${stack}-container`),
      longDrain: pools.get(`${stack}-longdrain`),
      fourHourDrain: pools.get(`${stack}-fourhourdrain`),
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
