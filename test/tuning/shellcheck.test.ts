import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { hostPayloadPart, PROFILE_NAMES, renderTuning } from "../../modules/tuning";
import {
  applyCommand,
  hostCommand,
  renderPayload,
} from "../../modules/host-payloads/metal-payload";
import { sshFiles } from "../../modules/host-payloads/metal-ssh";
import { missingCommands, prerequisite } from "../support/prerequisites";
import { exampleFacts, HOSTS } from "./support";

const shellcheck = (text: string, exclude: string[] = []) =>
  spawnSync(
    "shellcheck",
    ["--shell=sh", "--severity=style", ...exclude.map((code) => `--exclude=${code}`), "-"],
    { input: text, encoding: "utf8" },
  );

/**
 * SC2024 (sudo does not affect redirects): the command reads the login's copy and writes the
 * payload's log as the login, on purpose; only the install, the check and the run are root's.
 */
const COMMAND_EXCLUDES = ["SC2024"];
const TARGET = { config: ".avfleet/ssh/metal-sjc/config", host: "sjc-m001" };

test("shellcheck: the rendered avfleet-tune, host payloads and the commands that run them (sudo, root, a payload inline), every profile, both host classes", (t) => {
  if (!prerequisite(t, missingCommands("shellcheck"))) return;
  for (const host of Object.keys(HOSTS) as (keyof typeof HOSTS)[]) {
    for (const profile of PROFILE_NAMES) {
      const a = renderTuning(profile, exampleFacts(host));
      const payload = renderPayload([hostPayloadPart(a)]);
      for (const [what, text] of [
        ["script", a.script],
        ["payload", `#!/bin/sh\n${payload.text}`],
        ["sudo command", `#!/bin/sh\n${hostCommand("avfleet", payload.sha)}`],
        ["root command", `#!/bin/sh\n${hostCommand("root", payload.sha)}`],
        ["local command", `#!/bin/sh\n${applyCommand(TARGET, "avfleet", payload.sha)}`],
        [
          "inline command",
          `#!/bin/sh\n${applyCommand(TARGET, "avfleet", payload.sha, payload.text)}`,
        ],
      ]) {
        const result = shellcheck(text, what.endsWith("command") ? COMMAND_EXCLUDES : []);
        assert.equal(result.status, 0, `${host} ${profile} ${what}:\n${result.stdout}`);
      }
    }
  }
});

test("shellcheck: a site's bastion master script", (t) => {
  if (!prerequisite(t, missingCommands("shellcheck"))) return;
  const { master } = sshFiles(
    "metal-sjc",
    {
      user: "avfleet",
      port: 22,
      agent: true,
      bastion: {
        host: "bastion.example.net",
        port: 22,
        user: "avfleet",
        hostKey: "ssh-ed25519 AAAA",
      },
    },
    [],
  );
  const result = shellcheck(master!, []);
  assert.equal(result.status, 0, result.stdout);
});
