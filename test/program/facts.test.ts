import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadStackFile } from "../../modules/stacks/stack";
import { stackFacts } from "../../modules/program/facts";
import { ROOT } from "../support/cli";

const stack = (name: string) => loadStackFile(join(ROOT, "stacks", `Pulumi.${name}.yaml`));

test("facts carry our config's strings, never a secret or a provider key a team adds", () => {
  const { document, inventory } = stack("metal-sjc");
  const config = { ...document.config, "gcp:credentials": '{"private_key": "k"}' };
  const heldSecret = (key: string) => ["avfleet:sshPrivateKey", "aws:region"].includes(key);
  const facts = stackFacts("metal-sjc", { ...document, config }, inventory, heldSecret);
  assert.equal(facts.settings["avfleet:fleet.dns.zone"], "Z04517273OFFLINE");
  assert.equal(facts.settings["aws:region"], undefined, "held as a secret: left out");
  assert.equal(facts.settings["gcp:credentials"], undefined);
  assert.ok(!Object.keys(facts.settings).some((k) => k.startsWith("avfleet:sshPrivateKey")));
  assert.deepEqual(facts.secrets, { "avfleet:sshPrivateKey": true });
  assert.equal(facts.example, true);
  assert.equal(facts.fleet!.hostStates!["sjc-m030"], "retired");
  assert.deepEqual(facts.fleet!.mediaUdp, { from: 10000, to: 59999 });

  const plain = stackFacts("metal-sjc", document, inventory, () => false);
  assert.equal(plain.settings["aws:region"], "us-west-2");
  assert.deepEqual(plain.secrets, { "avfleet:sshPrivateKey": false });
});

test("traffic facts: the step bound and the order Cloud DNS WRR entries are written in", () => {
  const { document } = stack("traffic-eu-west");
  const facts = stackFacts("traffic-eu-west", document, undefined, () => false);
  assert.deepEqual(facts.traffic, {
    mediaRegion: "eu-west",
    maxStepPct: 25,
    servingPools: ["metal-ams", "gcp-europe-west4"],
    routing: "weighted",
  });
  assert.equal(facts.fleet, undefined);
});
