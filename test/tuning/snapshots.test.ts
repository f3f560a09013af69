import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderCloudInit, renderTuning, type TuningArtifacts } from "../../modules/tuning";
import { EXAMPLES, exampleFacts, HOSTS, matchSnapshot } from "./support";

const LIBRARY = readFileSync(join(EXAMPLES, "..", "avfleet-tune.lib.sh"), "utf8");
const LIBRARY_PLACEHOLDER = "# … modules/tuning/avfleet-tune.lib.sh, verbatim …";

const explained = (a: TuningArtifacts) =>
  a.settings.map((s) => `${s.area}\t${s.name}\t${s.value}\t${s.reason}\n`).join("");

for (const host of Object.keys(HOSTS) as (keyof typeof HOSTS)[]) {
  test(`snapshots: media-udp on ${host}`, () => {
    const a = renderTuning("media-udp", exampleFacts(host));
    // The library is committed as it is; the snapshot shows what the facts rendered.
    assert.ok(a.script.includes(LIBRARY.trimEnd()));
    matchSnapshot(
      `${host}.media-udp.avfleet-tune.sh`,
      a.script.replace(LIBRARY.trimEnd(), LIBRARY_PLACEHOLDER),
    );
    matchSnapshot(`${host}.media-udp.sysctl.conf`, a.sysctl);
    matchSnapshot(`${host}.media-udp.settings.tsv`, explained(a));
    // gzip bytes depend on the zlib build; render.test.ts checks that they unzip to the script.
    matchSnapshot(
      `${host}.media-udp.user-data.yaml`,
      renderCloudInit(a).replace(/^( +content: )\S+$/m, "$1<gzip+base64 of the script above>"),
    );
  });
}
