import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { hostPayloadPart, PROFILE_NAMES, renderTuning } from "../../modules/tuning";
import { renderPayload } from "../../modules/fleets/metal-payload";
import { missingCommands, prerequisite } from "../support/prerequisites";
import { exampleFacts, HOSTS } from "./support";

const shellcheck = (text: string) =>
  spawnSync("shellcheck", ["--shell=sh", "--severity=style", "-"], {
    input: text,
    encoding: "utf8",
  });

test("shellcheck: the rendered avfleet-tune and host payloads (sudo, root), every profile, both host classes", (t) => {
  if (!prerequisite(t, missingCommands("shellcheck"))) return;
  for (const host of Object.keys(HOSTS) as (keyof typeof HOSTS)[]) {
    for (const profile of PROFILE_NAMES) {
      const a = renderTuning(profile, exampleFacts(host));
      for (const [what, text] of [
        ["script", a.script],
        ["sudo payload", `#!/bin/sh\n${renderPayload("avfleet", [hostPayloadPart(a)]).create}`],
        ["root payload", `#!/bin/sh\n${renderPayload("root", [hostPayloadPart(a)]).create}`],
      ]) {
        const result = shellcheck(text);
        assert.equal(result.status, 0, `${host} ${profile} ${what}:\n${result.stdout}`);
      }
    }
  }
});
