/**
 * A copy of the example stacks (and the inventories a metal stack names from the project root)
 * with one stack file's config edited: what a test evaluates instead of the repository's own.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { ROOT } from "./cli";

export function stackCopyWith(
  stack: string,
  edit: (config: any) => void,
): { name: string; file: string; dir: string } {
  const root = mkdtempSync(join(tmpdir(), "avfleet-stacks-"));
  for (const folder of ["stacks", "inventory"])
    cpSync(join(ROOT, folder), join(root, folder), { recursive: true });
  const dir = join(root, "stacks");
  const file = join(dir, `Pulumi.${stack}.yaml`);
  const doc = YAML.parse(readFileSync(file, "utf8"));
  edit(doc.config);
  writeFileSync(file, YAML.stringify(doc));
  return { name: stack, file, dir };
}
