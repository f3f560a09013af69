/**
 * Per-session quality on the agent's /metrics: the agent (avfleet_agent/sessions.py) counts the media
 * server's session records and renders them line for line as the reference
 * (modules/host-series/sessions.ts) does; promtool's exposition lint accepts them; and the names and
 * buckets it serves are the ones the gates (COMPARISONS) and the SLO rules (spec.ts) read.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { agentFiles } from "../../modules/host/agent";
import { schemaProblems } from "../../modules/inputs/validate";
import { sessionsAnswerSchema, type SessionsAnswer } from "../../modules/config/sessions.schema";
import {
  countRecords,
  emptyCounts,
  renderSessionMetrics,
  SESSION_FAMILIES,
  type SessionCounts,
} from "../../modules/host-series/sessions";
import { COMPARISONS } from "../../modules/gates/compare";
import { SLO_NAMES } from "../../modules/gates/slo";
import { ICE_METRIC, SLIS } from "../../modules/observe/spec";
import { agentImports } from "../support/agent";
import { missingCommands, prerequisite } from "../support/prerequisites";
import { promtoolProblems } from "../support/promtool";

const LABELS = { host: "sfu-1", pool: "gcp-us-west1", zone: "us-west1-a", region: "us-west" };

const figures = (lossRatio: number, jitterP95Seconds: number, rttP95Seconds: number) => ({
  lossRatio,
  jitterP95Seconds,
  rttP95Seconds,
});

/** Two answers in a row, as the stand-in SFU gives them, with edges a real one may show. */
const ANSWERS: SessionsAnswer[] = [
  {
    cursor: "run-1:4",
    records: [
      { kind: "join", id: "a", joined: true, ice: "connected" },
      { kind: "join", id: "b", joined: false, ice: "failed" },
      // refused before ICE: a failed join, no ICE outcome
      { kind: "join", id: "c", joined: false, ice: null },
      { kind: "minute", id: "a", ...figures(0.00005, 0.0123, 0.081) },
    ],
    open: [{ id: "a", durationSeconds: 61.5, ...figures(0.00005, 0.0123, 0.081) }],
  },
  {
    cursor: "run-1:9",
    lost: 0,
    records: [
      { kind: "join", id: "d", joined: true, ice: "connected" },
      { kind: "minute", id: "a", ...figures(0.0004, 0.05, 0.3) },
      { kind: "end", id: "a", durationSeconds: 75.25, ...figures(0.0002, 0.031, 0.25) },
      // on a bound: counted in it (le is "less than or equal")
      { kind: "minute", id: "d", ...figures(0.01, 0.03, 1) },
      // past the last bound: only +Inf
      { kind: "end", id: "d", durationSeconds: 3, ...figures(0.5, 0.9, 4.5) },
    ],
    open: [],
  },
];

/** Runs `lines` of Python with the agent's sessions module imported as `agent`, `input` on stdin. */
function agentPython(lines: string[], input: unknown): unknown {
  const program = [
    agentImports("from avfleet_agent import sessions as agent"),
    "import json",
    "r = json.load(sys.stdin)",
    ...lines,
  ].join("\n");
  const run = spawnSync("python3", ["-c", program], {
    input: JSON.stringify(input),
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    encoding: "utf8",
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

/** The agent's counting and rendering over `answers`. */
function agentRender(answers: SessionsAnswer[], labels: Record<string, string>): string[] {
  const lines = [
    "f = r['families']; counts = agent.fresh_session_counts(f); out = []",
    "for answer in r['answers']:",
    "    counts = agent.count_records(f, counts, answer)",
    "    out.append(agent.session_metrics(f, r['labels'], counts, answer['open']))",
    "json.dump(out, sys.stdout)",
  ];
  return agentPython(lines, { families: SESSION_FAMILIES, labels, answers }) as string[];
}

function referenceRender(answers: SessionsAnswer[], labels: Record<string, string>): string[] {
  let counts: SessionCounts = emptyCounts(SESSION_FAMILIES);
  return answers.map((answer) => {
    counts = countRecords(SESSION_FAMILIES, counts, answer);
    return renderSessionMetrics(SESSION_FAMILIES, labels, counts, answer.open);
  });
}

/** A sample's value by its series and labels, as written. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line, `${series} in\n${text}`);
  return Number(line.split(" ").at(-1));
}

const labelled = (name: string, extra = "") =>
  `${name}{host="sfu-1",pool="gcp-us-west1",zone="us-west1-a",region="us-west"${extra}}`;

test("the answers of the test match the contract's schema", () => {
  for (const answer of ANSWERS) assert.deepEqual(schemaProblems(sessionsAnswerSchema, answer), []);
  assert.notDeepEqual(
    schemaProblems(sessionsAnswerSchema, {
      cursor: "x",
      records: [{ kind: "end", id: "a" }],
      open: [],
    }),
    [],
    "an ended session without its figures is refused",
  );
});

test("the agent counts and renders the session records line for line as the reference", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const reference = referenceRender(ANSWERS, LABELS);
  assert.deepEqual(agentRender(ANSWERS, LABELS), reference);
  // a label value to escape renders the same too
  const odd = { ...LABELS, host: 'sfu-"1"\\a' };
  assert.deepEqual(agentRender(ANSWERS, odd), referenceRender(ANSWERS, odd));

  const [first, second] = reference;
  const loss = COMPARISONS["packet-loss"];
  const joins = COMPARISONS["join-success"].summaryMetric;
  // three attempts, two failed (one before ICE): le="0" holds the failures
  assert.equal(sample(first, labelled(`${joins}_bucket`, ',le="0"')), 2);
  assert.equal(sample(first, labelled(`${joins}_count`)), 3);
  assert.equal(sample(first, labelled(`${joins}_sum`)), 1);
  assert.equal(sample(first, labelled(ICE_METRIC, ',outcome="failed"')), 1);
  assert.equal(sample(first, labelled(ICE_METRIC, ',outcome="connected"')), 1);
  // the call in progress, by its figure so far; nothing ended yet
  assert.equal(sample(first, labelled(`${loss.openMetric}_count`)), 1);
  assert.equal(sample(first, labelled(`${loss.openMetric}_bucket`, ',le="0.0005"')), 1);
  assert.equal(sample(first, labelled(`${loss.openMetric}_sum`)), 0.00005);
  assert.match(first, /_sum\{[^}]*\} 5e-05\n/, "as Python writes it, and the reference too");
  assert.equal(sample(first, labelled(`${loss.summaryMetric}_count`)), 0);
  // the counters only grow; the gauge histogram empties when the calls end
  assert.equal(sample(second, labelled(`${joins}_count`)), 4);
  assert.equal(sample(second, labelled(`${loss.summaryMetric}_count`)), 2);
  assert.equal(sample(second, labelled(`${loss.summaryMetric}_bucket`, ',le="0.0005"')), 1);
  assert.equal(sample(second, labelled(`${loss.summaryMetric}_bucket`, ',le="0.1"')), 1);
  assert.equal(sample(second, labelled(`${loss.sessionMetric}_count`)), 3);
  assert.equal(sample(second, labelled(`${loss.sessionMetric}_bucket`, ',le="0.01"')), 3);
  const rtt = COMPARISONS["rtt-p95"];
  assert.equal(sample(second, labelled(`${rtt.sessionMetric}_bucket`, ',le="1"')), 3);
  assert.equal(sample(second, labelled(`${rtt.summaryMetric}_bucket`, ',le="1"')), 1);
  assert.equal(sample(second, labelled(`${loss.openMetric}_count`)), 0);
});

test("the agent's session families pass promtool's parse and metrics lint", (t) => {
  if (!prerequisite(t, missingCommands("python3", "promtool"))) return;
  for (const text of agentRender(ANSWERS, LABELS)) assert.deepEqual(promtoolProblems(text), []);
});

/** Family name → its TYPE, and series name → its `le` bounds, of an exposition. */
function served(text: string) {
  const types = new Map<string, string>();
  const bounds = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1], type[2]);
    const bucket = /^(\S+)_bucket\{.*le="([^"]+)"\}/.exec(line);
    if (bucket) bounds.set(bucket[1], [...(bounds.get(bucket[1]) ?? []), bucket[2]]);
  }
  return { types, bounds };
}

test("the agent serves the series the gates and the SLO rules read, with their buckets", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const [text] = agentRender(ANSWERS, LABELS);
  const { types, bounds } = served(text);
  const expected = new Map<string, string>([[ICE_METRIC, "counter"]]);
  for (const slo of SLO_NAMES) {
    const { summaryMetric, openMetric, sessionMetric, buckets } = COMPARISONS[slo];
    const le = [...buckets.map(String), "+Inf"];
    for (const name of [summaryMetric, sessionMetric]) {
      expected.set(name, "histogram");
      assert.deepEqual(bounds.get(name), le, `${name}'s buckets are COMPARISONS["${slo}"]'s`);
    }
    if (openMetric) {
      for (const suffix of ["_bucket", "_sum", "_count"])
        expected.set(`${openMetric}${suffix}`, "untyped");
      assert.deepEqual(bounds.get(openMetric), le, `${openMetric}'s buckets`);
    }
  }
  assert.deepEqual(new Map([...types].sort()), new Map([...expected].sort()));
  // every series an SLI's PromQL names is one the agent serves
  const series = new Set(text.split("\n").flatMap((l) => /^([a-z0-9_]+)[{ ]/.exec(l)?.[1] ?? []));
  for (const sli of SLIS) {
    for (const expr of [sli.bad("5m"), sli.total("5m")]) {
      for (const [name] of expr.matchAll(/avfleet_[a-z0-9_]+/g))
        assert.ok(series.has(name), `${sli.name} reads ${name}, which the agent does not serve`);
    }
  }
});

test("a restarted agent goes on from its counts and cursor: no record twice, no counter back", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const state = mkdtempSync(join(tmpdir(), "agent-sessions-"));
  t.after(() => rmSync(state, { recursive: true, force: true }));
  // A server answering each cursor with the records after it; the agent restarts between calls.
  const lines = [
    "import http.server, threading, urllib.parse",
    "asked = []",
    "class H(http.server.BaseHTTPRequestHandler):",
    "    def do_GET(self):",
    "        after = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get('after', [''])[0]",
    "        asked.append(after)",
    "        body = json.dumps(r['answers'][after]).encode()",
    "        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)",
    "    def log_message(self, *a): pass",
    "server = http.server.HTTPServer(('127.0.0.1', 0), H)",
    "threading.Thread(target=server.serve_forever, daemon=True).start()",
    "config = {'sessions': r['families'], 'workload': {'adminPort': server.server_address[1], 'sessionsPath': '/sessions'}}",
    "out = []",
    "for _ in range(3):",
    "    s = agent.Sessions(config, r['state']); s.count(); out.append(s.metrics(r['labels']))",
    "json.dump({'asked': asked, 'out': out}, sys.stdout)",
  ];
  const answers = {
    "": ANSWERS[0],
    [ANSWERS[0].cursor]: ANSWERS[1],
    [ANSWERS[1].cursor]: { cursor: ANSWERS[1].cursor, records: [], open: [] },
  };
  const input = { families: SESSION_FAMILIES, labels: LABELS, answers, state };
  const { asked, out } = agentPython(lines, input) as { asked: string[]; out: string[] };
  assert.deepEqual(asked, ["", ANSWERS[0].cursor, ANSWERS[1].cursor]);
  const reference = referenceRender(ANSWERS, LABELS);
  assert.deepEqual(out.slice(0, 2), reference);
  // nothing new: the same counts, the calls in progress as the server says (none)
  assert.equal(out[2], reference[1]);
});

test("every platform's agent counts session records (AWS's fetches its agent from S3: no user-data cap)", () => {
  for (const kind of ["gcp", "metal", "aws"] as const) {
    const spec = { kind, workload: { package: "avfleet-sfu" } } as unknown as FleetSpec;
    const module = agentFiles(spec).find((f) => f.path.endsWith("/avfleet_agent/sessions.py"));
    assert.match(module?.content ?? "", /^class Sessions:/m, kind);
  }
});
