/**
 * Long strings cross the worker's pipe once: a batch carries each new long string once and
 * references it after; the parent rebuilds the inputs exactly, one string shared by all.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SharedStrings, StringSharer } from "../../modules/evaluation/shared-strings";

// What crosses the pipe: JSON.
const wire = <T>(value: T): T => JSON.parse(JSON.stringify(value));

test("each long string is sent once, later batches reference it, the parent gets the inputs back", () => {
  const payload = `#!/bin/sh\n${"echo tune\n".repeat(500)}`;
  const other = "x".repeat(2000);
  const host = (n: number) => ({
    create: payload,
    triggers: [`hash-${n}`, n % 2 ? other : "short"],
    connection: { host: `10.0.0.${n}`, port: 22 },
    nested: [{ script: payload }],
  });
  const sharer = new StringSharer();
  const parent = new SharedStrings();
  const batches = [
    [host(1), host(2)],
    [host(3), host(4)],
  ];
  const sent = batches.map((batch) => {
    const resources = batch.map((inputs) => sharer.share(inputs));
    return wire({ resources, strings: sharer.take() });
  });
  assert.deepEqual(sent[0].strings, [payload, other]);
  assert.deepEqual(sent[1].strings, [], "nothing new in the second batch");
  assert.ok(JSON.stringify(sent).length < JSON.stringify([payload, other]).length + 1000);

  const received = sent.flatMap((message) => {
    parent.add(message.strings);
    return message.resources.map((inputs) => parent.resolve(inputs));
  });
  assert.deepEqual(received, batches.flat());
});

test("short strings, numbers, booleans and null pass as they are", () => {
  const inputs = { name: "sjc-m001", port: 22, adopt: false, zone: null, list: ["a", 1, true] };
  const sharer = new StringSharer();
  assert.deepEqual(wire(sharer.share(inputs)), inputs);
  assert.deepEqual(sharer.take(), []);
});
