/**
 * #27 finding 6: `avfleet place` rewrote unrelated YAML (flow maps split, long lines folded).
 * A proposed edit changes the bytes of the values it sets and nothing else.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { setInText } from "../../modules/placement/yaml-edit";
import { ROOT } from "../support/cli";

const FLEET = ["config", "avfleet:fleet"];

/** Flow maps past 100 columns, a long comment, quoted strings: what a re-print rewrites. */
const STACK = `# A pool whose file holds what yaml's printer would rewrite: a long comment line well past the hundred columns of the old printer.
config:
  gcp:region: "us-central1"
  avfleet:fleet:
    kind: gcp
    ports:
      mediaUdp: { from: 10000, to: 59999 }
      health: { path: /healthz, port: 8080, note: "a flow map long enough to be split by a printer at 100" }
    zones: [us-central1-a, us-central1-b]   # two zones
    maxHosts: 90
    labels:
      team: media-infra

  # trailing comment of the file
`;

test("a re-print would rewrite the example: the edits below must not", () => {
  assert.notEqual(YAML.parseDocument(STACK).toString({ lineWidth: 100 }), STACK);
});

test("setting a scalar replaces only its text; the same value leaves the file as it is", () => {
  assert.equal(
    setInText(STACK, [...FLEET, "maxHosts"], 15),
    STACK.replace("    maxHosts: 90\n", "    maxHosts: 15\n"),
  );
  assert.equal(
    setInText(STACK, [...FLEET, "ports", "health", "port"], 8081),
    STACK.replace("port: 8080,", "port: 8081,"),
  );
  assert.equal(setInText(STACK, [...FLEET, "maxHosts"], 90), STACK);
  assert.equal(setInText(STACK, ["config", "gcp:region"], "us-central1"), STACK);
});

test("a new key goes after the last key of its map, block or flow, at that map's indentation", () => {
  assert.equal(
    setInText(STACK, [...FLEET, "minHosts"], 3),
    STACK.replace("      team: media-infra\n", "      team: media-infra\n    minHosts: 3\n"),
  );
  assert.equal(
    setInText(STACK, [...FLEET, "ports", "mediaUdp", "step"], 2),
    STACK.replace("{ from: 10000, to: 59999 }", "{ from: 10000, to: 59999, step: 2 }"),
  );
  assert.equal(
    setInText(STACK, [...FLEET, "demand", "peakParticipants"], 2000),
    STACK.replace(
      "      team: media-infra\n",
      "      team: media-infra\n    demand:\n      peakParticipants: 2000\n",
    ),
  );
});

test("a list is replaced in its own style: block items as flow maps, a flow list in flow", () => {
  const split = `config:
  avfleet:traffic:
    # the pools, in order
    pools:
      - { stack: metal-sjc, weight: 100 }
      - { stack: gcp-us-west1, weight: 0 }
    maxStepPct: 25 # kept
`;
  assert.equal(
    setInText(
      split,
      ["config", "avfleet:traffic", "pools"],
      [
        { stack: "metal-sjc", weight: 100, geo: { lat: 37.34, lon: -121.89 } },
        { stack: "gcp-us-west1", weight: 100, geo: { awsRegion: "us-west-2" } },
      ],
    ),
    split.replace(
      "      - { stack: metal-sjc, weight: 100 }\n      - { stack: gcp-us-west1, weight: 0 }\n",
      "      - { stack: metal-sjc, weight: 100, geo: { lat: 37.34, lon: -121.89 } }\n      - { stack: gcp-us-west1, weight: 100, geo: { awsRegion: us-west-2 } }\n",
    ),
  );
  assert.equal(
    setInText(STACK, [...FLEET, "zones"], ["us-central1-a", "us-central1-c"]),
    STACK.replace("[us-central1-a, us-central1-b]", "[us-central1-a, us-central1-c]"),
  );
});

test("on every stack file of the repository, an edit changes its one line and the parse agrees", () => {
  for (const name of readdirSync(join(ROOT, "stacks"))) {
    const before = readFileSync(join(ROOT, "stacks", name), "utf8");
    const parsed = YAML.parse(before).config;
    const [path, line, value] = parsed["avfleet:fleet"]
      ? [[...FLEET, "demand", "peakParticipants"], /^( {6}peakParticipants: )\d+$/m, 1234]
      : [["config", "avfleet:traffic", "maxStepPct"], /^( {4}maxStepPct: )\d+$/m, 7];
    const after = setInText(before, path as string[], value);
    assert.equal(
      after,
      before.replace(line as RegExp, (_, key) => `${key}${value}`),
      name,
    );
    const expected = YAML.parseDocument(before);
    expected.setIn(path as string[], value);
    assert.deepEqual(YAML.parse(after), expected.toJS(), name);
  }
});
