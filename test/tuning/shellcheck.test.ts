import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { PROFILE_NAMES, renderHostPayload, renderTuning } from "../../modules/tuning";
import { missingCommands, prerequisite } from "../support/prerequisites";
import { exampleFacts, HOSTS } from "./support";

const shellcheck = (text: string) =>
  spawnSync("shellcheck", ["--shell=sh", "--severity=style", "-"], {
    input: text,
    encoding: "utf8",
  });

test("shellcheck: the rendered avfleet-tune and host payload, every profile, both host classes", (t) => {
  if (!prerequisite(t, missingCommands("shellcheck"))) return;
  for (const host of Object.keys(HOSTS) as (keyof typeof HOSTS)[]) {
    for (const profile of PROFILE_NAMES) {
      const a = renderTuning(profile, exampleFacts(host));
      for (const [what, text] of [
        ["script", a.script],
        ["payload", `#!/bin/sh\n${renderHostPayload(a).create}`],
      ]) {
        const result = shellcheck(text);
        assert.equal(result.status, 0, `${host} ${profile} ${what}:\n${result.stdout}`);
      }
    }
  }
});
