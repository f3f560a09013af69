/**
 * A package bump on a 2,600-host bare-metal site, with a DNS change that reaches every host:
 * four shards run at the same time merge into the markdown one run prints, though the site's
 * shard is larger than merge's old 1 MiB input limit; the comment stays within GitHub's limit
 * with the summary first, and the package moves in words before any line of the payload.
 */
import assert from "node:assert/strict";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { writeSite } from "../../bench/estate";
import { GITHUB_COMMENT_LIMIT } from "../../modules/diff/report";
import { avfleetAsync, tempProject, type TempProject } from "./project";

let project: TempProject;
// Enough hosts for the site's shard to pass merge's old 1 MiB input limit (2,600: ~1.25 MiB).
const HOSTS = 2600;
// writeSite drains every 97th host (from the 4th) and retires every 101st (from the 8th).
const SERVING = Array.from({ length: HOSTS }, (_, i) => i).filter(
  (i) => i % 97 !== 3 && i % 101 !== 7,
).length;

before(() => {
  project = tempProject();
  writeSite(project.dir, "metal-big", HOSTS);
  for (const stack of ["aws-us-east-1", "gcp-us-west1", "metal-sjc"]) {
    project.writeStack(stack, stack);
  }
  project.commit("base");
  project.editYaml("stacks/Pulumi.metal-big.yaml", (doc) => {
    const fleet = doc.config["avfleet:fleet"];
    fleet.workload.version = "2.4.2-1";
    fleet.dns.ttl = 60;
  });
});
after(() => project.dispose());

test("4 shards of a package bump on a 2,600-host site merge into the unsharded markdown", async () => {
  const shards = await Promise.all(
    [1, 2, 3, 4].map((i) => avfleetAsync(project, "diff", "--base", "HEAD", "--shard", `${i}/4`)),
  );
  const files = shards.map((result, i) => {
    assert.equal(result.code, 0, result.stderr);
    const file = join(project.dir, `shard-${i + 1}.json`);
    writeFileSync(file, result.stdout);
    return file;
  });
  const sizes = files.map((f) => statSync(f).size);
  assert.ok(Math.max(...sizes) > 1 << 20, `the site's shard is over 1 MiB: ${sizes.join(", ")}`);

  const whole = project.avfleet("diff", "--base", "HEAD", "--markdown");
  assert.equal(whole.code, 0, whole.stderr);
  const merged = project.avfleet("diff", "merge", ...files, "--markdown");
  assert.equal(merged.code, 0, merged.stderr);
  assert.equal(merged.stdout, whole.stdout);

  const md = merged.stdout;
  assert.ok(md.length <= GITHUB_COMMENT_LIMIT, `${md.length} characters`);
  assert.match(
    md,
    /^### avfleet diff: `HEAD \([0-9a-f]{7}\)` → `working tree`\n\n\*\*1 of 4 stacks change/,
  );
  const table = md.indexOf("| **metal-big** |");
  assert.ok(table > 0 && table < md.indexOf("<details>"), "the summary row before any detail");
  // Every serving host's record, both class payloads, the facts.
  const updated = Number(/\| \*\*metal-big\*\* \| 0 \| (\d+) \|/.exec(md)?.[1]);
  assert.equal(updated, SERVING + 3);
  // The payload's change in words first, then its decoded lines.
  const words = md.indexOf("changes: avfleet-sfu 2.4.1-1 → 2.4.2-1");
  assert.ok(words > 0 && words < md.indexOf("\n-    "), "the package move before the lines");
  assert.match(md, /payload: \(decoded from base64 heredocs\)/);
  assert.match(md, /_Details cut to fit GitHub's comment limit/);
});
