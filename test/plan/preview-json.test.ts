/**
 * `preview --json` is written piece by piece: the pieces make exactly the text
 * JSON.stringify(value, null, 2) makes, at every depth, for any JSON value.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { jsonPieces, PREVIEW_JSON_DEPTH, previewJson } from "../../modules/plan/render-preview";
import type { Plan } from "../../modules/plan/plan";

const whole = (value: unknown) => JSON.stringify(value, null, 2);
const pieced = (value: unknown, depth: number) => [...jsonPieces(value, depth)].join("");

test("a preview document: the same text, one piece per resource", () => {
  const plans: Plan[] = [
    {
      name: "metal-sjc",
      resources: [
        {
          urn: "urn:a",
          type: "command:local:Command",
          name: "a",
          custom: true,
          inputs: {
            create: "#!/bin/sh\necho 'x'\n",
            triggers: ["h", null],
          },
        },
        { urn: "urn:b", type: "t", name: "b", parent: "urn:a", custom: true, inputs: {} },
      ],
      outputs: { hosts: { active: 2 }, empty: [], nothing: {} },
      capacity: {
        demandStreams: 1,
        capacityStreams: 2,
        hostsRequired: 1,
        shortfallHosts: 0,
      },
      cost: { computeMonthlyUsd: { min: 1, max: 1 }, egressMonthlyUsd: 2, trafficShare: 1 },
    },
    { name: "traffic-us-west", resources: [], outputs: {} },
  ];
  const document = previewJson(plans);
  assert.equal(pieced(document, PREVIEW_JSON_DEPTH), whole(document));
  const pieces = [...jsonPieces(document, PREVIEW_JSON_DEPTH)];
  assert.ok(pieces.some((p) => p.startsWith('{\n          "urn": "urn:a"')));
});

test("any JSON value at any depth", () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.integer({ min: 0, max: 6 }), (value, depth) => {
      assert.equal(pieced(value, depth), whole(value));
    }),
    { numRuns: 500 },
  );
  // What JSON.stringify drops or turns into null.
  const odd = { a: undefined, b: [undefined, 1], c: { d: undefined } };
  assert.equal(pieced(odd, 3), whole(odd));
});
