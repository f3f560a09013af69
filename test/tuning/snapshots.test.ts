import { test } from "node:test";
import {
  renderCloudInit,
  renderHostPayload,
  renderTuning,
  type TuningArtifacts,
} from "../../modules/tuning";
import { exampleFacts, HOSTS, matchSnapshot } from "./support";

const explained = (a: TuningArtifacts) =>
  a.settings.map((s) => `${s.area}\t${s.name}\t${s.value}\t${s.reason}\n`).join("");

for (const host of Object.keys(HOSTS) as (keyof typeof HOSTS)[]) {
  test(`snapshots: media-udp on ${host}`, () => {
    const a = renderTuning("media-udp", exampleFacts(host));
    matchSnapshot(`${host}.media-udp.avfleet-tune.sh`, a.script);
    matchSnapshot(`${host}.media-udp.sysctl.conf`, a.sysctl);
    matchSnapshot(`${host}.media-udp.settings.tsv`, explained(a));
    matchSnapshot(`${host}.media-udp.user-data.yaml`, renderCloudInit(a));
    matchSnapshot(`${host}.media-udp.payload.sh`, renderHostPayload(a).create);
  });
}
