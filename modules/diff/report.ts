/**
 * A whole diff report, rendered for people: the summary first (headline, what moves traffic
 * or hosts, a table per stack), then per-stack details. The same words serve the terminal and
 * the PR comment; only the markup differs.
 */
import type { ResourceChange, StackDiff, ValueChange } from "./diff";
import { replacementEffect } from "../providers/replacement";
import { decodeRendered, textChange } from "./text";
import type { Range } from "./effects";
import { costChange, type Move, type StackSummary } from "./summary";
import { TRAFFIC_WEIGHTS_POLICY } from "../../policy/contract/rules";

export interface Side {
  /** What the user named: `origin/main`, `HEAD~1`, or "working tree". */
  label: string;
  /** Abbreviated commit, when the side is a commit. */
  commit?: string;
}

export interface StackReport {
  diff: StackDiff;
  summary: StackSummary;
}

export interface DiffReport {
  base: Side;
  head: Side;
  /** Every stack at either side, changed or not. */
  stacks: StackReport[];
}

const sideName = (s: Side) => (s.commit ? `${s.label} (${s.commit})` : s.label);

export const changedStacks = (report: DiffReport) =>
  report.stacks.filter((s) => s.diff.status !== "unchanged");

/** Capacity and cost move with prices and demand: such a stack's inputs did not change. */
export const costOnly = ({ diff }: StackReport) =>
  diff.status === "changed" && diff.resources.length === 0 && diff.outputs.length === 0;

export function noChangeLine(report: DiffReport): string {
  return `No infrastructure change: ${report.stacks.length} stacks have identical Plans at ${sideName(report.base)} and ${sideName(report.head)}.`;
}

// --- words -------------------------------------------------------------------------------

const usd = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

function money(delta: number): string {
  const rounded = Math.round(delta);
  if (rounded === 0) return "±$0";
  // ASCII "-" beside ASCII "+": one pair of characters a reader (and a grep) can match.
  return `${rounded > 0 ? "+" : "-"}$${usd.format(Math.abs(rounded))}`;
}

const range = (r?: Range) => (!r ? "—" : r.min === r.max ? `${r.min}` : `${r.min}–${r.max}`);

function hostsCell(s: StackSummary): string {
  return s.hosts ? `${range(s.hosts.before)} → ${range(s.hosts.after)}` : "";
}

function costCell(s: StackSummary): string {
  if (!s.cost) return "";
  const { computeMin, computeMax, egress } = costChange(s.cost);
  const compute =
    Math.round(computeMin) === Math.round(computeMax)
      ? money(computeMax)
      : `${money(computeMin)}…${money(computeMax)} (min…max hosts)`;
  return `compute ${compute} · egress ${money(egress)}`;
}

const MOVES_SHOWN = 4;

function moveText<T>(m: Move<T>, absent: string): string {
  return `${m.key} ${m.before ?? absent} → ${m.after ?? absent}`;
}

function capped(items: string[]): string {
  const shown = items.slice(0, MOVES_SHOWN).join(", ");
  return items.length > MOVES_SHOWN ? `${shown}, +${items.length - MOVES_SHOWN} more` : shown;
}

/** Weights are percent of the region's joins (they sum to 100). */
const percentMove = (m: Move<number>) => ({
  key: m.key,
  ...(m.before === undefined ? {} : { before: `${m.before}%` }),
  ...(m.after === undefined ? {} : { after: `${m.after}%` }),
});

function weightsCell(s: StackSummary): string {
  return capped(s.weights.map((m) => moveText(percentMove(m), "—")));
}

function hostEffectsCell(s: StackSummary): string {
  return s.hostEffects.map((e) => e.text).join("; ");
}

/** Host moves grouped by transition: "3 active → draining". */
function hostStatesCell(s: StackSummary): string {
  const groups = new Map<string, number>();
  for (const m of s.hostStates) {
    const t = `${m.before ?? "new"} → ${m.after ?? "gone"}`;
    groups.set(t, (groups.get(t) ?? 0) + 1);
  }
  return capped([...groups].map(([t, n]) => `${n} ${t}`));
}

function policyCell(s: StackSummary): string {
  const level = (l: string) => s.policy.introduced.filter((v) => v.level === l).length;
  return [
    level("mandatory") && `+${level("mandatory")} mandatory`,
    level("advisory") && `+${level("advisory")} advisory`,
    s.policy.resolved.length && `${s.policy.resolved.length} resolved`,
  ]
    .filter(Boolean)
    .join(", ");
}

function stackLabel(s: StackSummary): string {
  return s.status === "added"
    ? `${s.stack} (new stack)`
    : s.status === "removed"
      ? `${s.stack} (stack removed)`
      : s.stack;
}

/**
 * Order of the summary: traffic moving first, then hosts changing state, new violations,
 * replacements and deletions, then everything else; by name within each.
 */
function rank(s: StackSummary): number {
  if (s.weights.length) return 0;
  if (s.hostStates.length) return 1;
  if (s.policy.introduced.length) return 2;
  if (s.replaced || s.deleted || s.status === "removed") return 3;
  return 4;
}

export function ordered(report: DiffReport): StackReport[] {
  return changedStacks(report).sort(
    (a, b) => rank(a.summary) - rank(b.summary) || (a.summary.stack < b.summary.stack ? -1 : 1),
  );
}

interface Headline {
  line: string;
  /** Things a media fleet's reviewer must not miss. */
  alerts: string[];
}

function headline(report: DiffReport): Headline {
  const changed = changedStacks(report).map((s) => s.summary);
  const costs = changedStacks(report).filter(costOnly).length;
  const total = (k: "created" | "updated" | "replaced" | "deleted") =>
    changed.reduce((n, s) => n + s[k], 0);
  const moved = changed.flatMap((s) => (s.cost ? [costChange(s.cost)] : []));
  const sum = (k: "computeMax" | "egress") => moved.reduce((n, c) => n + c[k], 0);
  const touching = changed.filter((s) => s.hostEffects.some((e) => e.touches));
  const added = changed.filter((s) => s.status === "added").length;
  const removed = changed.filter((s) => s.status === "removed").length;
  const parts = [
    `${changed.length - costs} of ${report.stacks.length} stacks change`,
    costs && `${costs} with cost only (prices or demand moved)`,
    added && `${added} added`,
    removed && `${removed} removed`,
    `${total("created")} to create`,
    `${total("updated")} to update`,
    `${total("replaced")} to replace`,
    `${total("deleted")} to delete (resources)`,
    touching.length
      ? `running hosts touched in ${touching.length} ${touching.length === 1 ? "stack" : "stacks"}`
      : "no running host touched",
    moved.length && `compute ${money(sum("computeMax"))}/mo at max hosts`,
    moved.length && `egress ${money(sum("egress"))}/mo`,
  ].filter(Boolean);
  // A broken step rule moves live traffic faster than the split allows: it heads the summary,
  // which is never cut, with its message.
  const alerts: string[] = changed.flatMap((s) =>
    s.policy.introduced
      .filter((v) => v.level === "mandatory" && v.policy === TRAFFIC_WEIGHTS_POLICY)
      .map((v) => `Traffic rule broken in ${s.stack}: ${v.message}`),
  );
  for (const { diff } of changedStacks(report)) alerts.push(...stepLimitAlerts(diff));
  for (const s of changed) {
    if (s.weights.length) alerts.push(`Traffic moves in ${s.stack}: ${weightsCell(s)}`);
    for (const e of s.hostEffects.filter((e) => e.touches)) {
      alerts.push(`Running hosts in ${s.stack}: ${e.text}`);
    }
    if (s.hostStates.length) alerts.push(`Hosts change state in ${s.stack}: ${hostStatesCell(s)}`);
    const mandatory = s.policy.introduced.filter((v) => v.level === "mandatory").length;
    if (mandatory) alerts.push(`${mandatory} new mandatory policy violations in ${s.stack}`);
  }
  return { line: parts.join(" · "), alerts };
}

/**
 * The step rule judges a PR's traffic move by the head's maxStepPct: a PR that raises it passes
 * the rule it loosened, so the raise itself heads the summary.
 */
function stepLimitAlerts(diff: StackDiff): string[] {
  return diff.resources.flatMap((r) =>
    r.changes
      .filter(
        (c) =>
          /(^|\.)maxStepPct$/.test(c.path) &&
          typeof c.after === "number" &&
          (typeof c.before !== "number" || c.after > c.before),
      )
      .map(
        (c) =>
          `Step limit raised in ${diff.stack}: maxStepPct ${c.before ?? "(none)"} → ${c.after}; this PR's traffic move is judged by the raised limit`,
      ),
  );
}

const COLUMNS = [
  "Stack",
  "Create",
  "Update",
  "Replace",
  "Delete",
  "Hosts",
  "Running hosts",
  "Cost / month",
  "Traffic weights",
  "Host states",
  "New policy violations",
] as const;

function rowCells(s: StackSummary): string[] {
  return [
    stackLabel(s),
    String(s.created),
    String(s.updated),
    String(s.replaced),
    String(s.deleted),
    hostsCell(s),
    hostEffectsCell(s),
    costCell(s),
    weightsCell(s),
    hostStatesCell(s),
    policyCell(s),
  ];
}

function unchangedLine(report: DiffReport): string | undefined {
  const names = report.stacks.filter((s) => s.diff.status === "unchanged").map((s) => s.diff.stack);
  if (names.length === 0) return undefined;
  // Names only while the list stays short: the summary must fit a PR comment.
  return names.length <= 20
    ? `${names.length} stacks unchanged: ${names.join(", ")}.`
    : `${names.length} stacks unchanged.`;
}

// --- details -----------------------------------------------------------------------------

const SHOW_CHARS = 100;

function show(value: unknown): string {
  if (value === undefined) return "(none)";
  const text = JSON.stringify(value);
  return text.length > SHOW_CHARS ? `${text.slice(0, SHOW_CHARS - 1)}…` : text;
}

/** Most diff lines one value shows; the CLI's --json has every change in full. */
const MAX_TEXT_LINES = 400;

/** A string a reviewer reads as text: several lines, or an encoding avfleet rendered. */
function isText(v: unknown): v is string {
  return typeof v === "string" && (v.includes("\n") || decodeRendered(v).encoding !== undefined);
}

/** A script or payload: what it changes first, then a unified diff of its (decoded) lines. */
function textLines(c: ValueChange, indent: string, note: string): string[] {
  const t = textChange(c.before as string | undefined, c.after as string | undefined);
  const inner = `${indent}    `;
  const lines = t.lines.map((l) =>
    l.startsWith("@@") ? ` ${inner}${l}` : `${l[0]}${inner}${l.slice(1)}`,
  );
  return [
    ` ${indent}${c.path}:${note}${t.encoding ? ` (decoded from ${t.encoding})` : ""}`,
    ...(t.summary.length ? [` ${inner}changes: ${t.summary.join("; ")}`] : []),
    ...(lines.length > MAX_TEXT_LINES
      ? [
          ...lines.slice(0, MAX_TEXT_LINES),
          ` ${inner}… ${lines.length - MAX_TEXT_LINES} more diff lines`,
        ]
      : lines),
  ];
}

function valueLines(c: ValueChange, indent: string, note = ""): string[] {
  const { before, after } = c;
  const sides = [before, after].filter((v) => v !== undefined);
  if (sides.length > 0 && sides.every(isText)) return textLines(c, indent, note);
  return [` ${indent}${c.path}: ${show(before)} → ${show(after)}${note}`];
}

const OP_MARK: Record<ResourceChange["op"], string> = {
  create: "+  ",
  update: "~  ",
  // GitHub's diff highlighting colours "-" lines red and "+" green: a replacement is neither a
  // removal nor a good thing, so it starts with "!" (a changed line) like the other warnings.
  replace: "!+-",
  delete: "-  ",
};

function shortType(type: string): string {
  const [pkg, module, name] = type.split(":");
  return name ? `${pkg}:${module.split("/")[0]}:${name}` : type;
}

function resourceLines(r: ResourceChange): string[] {
  const forcing = r.changes.filter((c) => c.replaces).map((c) => c.path);
  const effect = r.op === "replace" ? replacementEffect(r.type) : undefined;
  const why = [forcing.length && `forced by ${forcing.join(", ")}`, effect]
    .filter(Boolean)
    .join("; ");
  return [
    `${OP_MARK[r.op]} ${r.name}  ${shortType(r.type)}  ${r.op}${why ? ` (${why})` : ""}`,
    ...r.changes.flatMap((c) =>
      valueLines(c, "      ", c.replaces ? "  [forces replacement]" : ""),
    ),
  ];
}

/** A stack's details as diff-style lines (+ create, ~ update, !+- replace, - delete). */
export function detailLines({ diff, summary }: StackReport): string[] {
  const lines = diff.resources.flatMap(resourceLines);
  const section = (title: string, body: string[]) => (body.length ? [`   ${title}:`, ...body] : []);
  lines.push(
    ...section(
      "traffic weights",
      summary.weights.map((m) => `!     ${moveText(percentMove(m), "(none)")}`),
    ),
    ...section(
      "host states",
      summary.hostStates.map((m) => `!     ${moveText(m, "(none)")}`),
    ),
    // A stack added or removed is its resources; its outputs and costs are the summary's.
    ...(diff.status === "changed"
      ? [
          ...section(
            "outputs",
            diff.outputs
              .filter((c) => !/^(weights|hostStates)\b/.test(c.path))
              .flatMap((c) => valueLines(c, "      ")),
          ),
          ...section(
            "capacity and cost",
            diff.economics.flatMap((c) => valueLines(c, "      ")),
          ),
        ]
      : []),
    ...section("new policy violations", [
      ...summary.policy.introduced.map(
        (v) =>
          `!     [${v.level}] ${v.policy}: ${v.message} (${v.urn.split("::").pop()}; fix: ${v.remediation})`,
      ),
      ...summary.policy.resolved.map(
        (v) => `+     resolved [${v.level}] ${v.policy} (${v.urn.split("::").pop()})`,
      ),
    ]),
  );
  return lines;
}

function detailTitle(s: StackSummary): string {
  const counts = [
    s.created && `${s.created} to create`,
    s.updated && `${s.updated} to update`,
    s.replaced && `${s.replaced} to replace`,
    s.deleted && `${s.deleted} to delete`,
  ].filter(Boolean);
  const effects = s.hostEffects.map((e) => e.text).join("; ");
  return `${stackLabel(s)}: ${counts.join(", ") || "outputs only"}${effects ? ` — ${effects}` : ""}`;
}

// --- terminal ----------------------------------------------------------------------------

export function renderText(report: DiffReport): string {
  if (changedStacks(report).length === 0) return `${noChangeLine(report)}\n`;
  const stacks = ordered(report);
  const { line, alerts } = headline(report);
  const rows = [[...COLUMNS], ...stacks.map((s) => rowCells(s.summary))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const table = rows.map((r) =>
    r
      .map((cell, i) => (i >= 1 && i <= 4 ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join("  ")
      .trimEnd(),
  );
  const out = [
    `avfleet diff: ${sideName(report.base)} → ${sideName(report.head)}`,
    line,
    ...alerts.map((a) => `! ${a}`),
    "",
    ...table,
    ...(unchangedLine(report) ? ["", unchangedLine(report)!] : []),
  ];
  for (const s of stacks) {
    out.push("", detailTitle(s.summary), ...detailLines(s).map((l) => `  ${l}`));
  }
  return `${out.join("\n")}\n`;
}

// --- Markdown ----------------------------------------------------------------------------

/** GitHub's limit on a comment's body, in characters. */
export const GITHUB_COMMENT_LIMIT = 65_536;

/** Left for what the PR workflow adds to the comment: its marker and the pulumi preview lines. */
export const WORKFLOW_RESERVE = 2_000;

const cell = (text: string) => text.replace(/\|/g, "\\|");

function fence(lines: string[]): string {
  // Longer than any backtick run inside, so user-data quoting Markdown cannot end it early.
  const longest = Math.max(
    2,
    ...lines.map((l) => Math.max(0, ...(l.match(/`+/g) ?? []).map((m) => m.length))),
  );
  return "`".repeat(longest + 1);
}

function detailsBlock(s: StackReport, lines: string[], note?: string): string {
  const f = fence(lines);
  return [
    `<details><summary><b>${detailTitle(s.summary)}</b></summary>`,
    "",
    `${f}diff`,
    ...lines,
    ...(note ? [` ${note}`] : []),
    f,
    "",
    "</details>",
    "",
  ].join("\n");
}

/** Most rows of the summary table; the rest are counted, in the order they would have come. */
export const MAX_TABLE_ROWS = 100;
/** Most alerts above the table. */
export const MAX_ALERTS = 20;

function tableRow(s: StackReport): string {
  const cells = rowCells(s.summary).map(cell);
  cells[0] = `**${cells[0]}**`;
  const weights = COLUMNS.indexOf("Traffic weights");
  if (cells[weights]) cells[weights] = `⚠️ **${cells[weights]}**`;
  return `| ${cells.join(" | ")} |`;
}

const more = (n: number, what: string) => (n > 0 ? [`_… and ${n} more ${what}._`, ""] : []);

/** Where the reader finds what the comment leaves out. */
const fullDiff = (report: DiffReport) =>
  `the full diff is the run's \`avfleet-diff\` artifact, or \`npx avfleet diff --base ${report.base.label}\``;

/**
 * The PR comment. The summary comes first and whole, its table and alerts capped so that it
 * fits whatever the estate; details fill what is left of `limit` in summary order, the last one
 * cut at a line, and the stacks whose details did not fit are named.
 */
export function renderMarkdown(
  report: DiffReport,
  limit = GITHUB_COMMENT_LIMIT - WORKFLOW_RESERVE,
): string {
  if (changedStacks(report).length === 0) return `${noChangeLine(report)}\n`;
  const stacks = ordered(report);
  const { line, alerts } = headline(report);
  const summary = [
    `### avfleet diff: \`${sideName(report.base)}\` → \`${sideName(report.head)}\``,
    "",
    `**${line}**`,
    "",
    ...alerts.slice(0, MAX_ALERTS).map((a) => `> ⚠️ **${a}**  `),
    ...(alerts.length ? [""] : []),
    ...more(alerts.length - MAX_ALERTS, "alerts (in the table below)"),
    `| ${COLUMNS.join(" | ")} |`,
    `| ${COLUMNS.map((_, i) => (i >= 1 && i <= 4 ? "---:" : "---")).join(" | ")} |`,
    ...stacks.slice(0, MAX_TABLE_ROWS).map(tableRow),
    "",
    ...more(stacks.length - MAX_TABLE_ROWS, `stacks change: ${fullDiff(report)}`),
    ...(unchangedLine(report) ? [unchangedLine(report)!, ""] : []),
  ].join("\n");
  const cutNote = (dropped: string[]) =>
    `_Details cut to fit GitHub's comment limit${dropped.length ? ` (not shown: ${capped(dropped)})` : ""}: ${fullDiff(report)}._\n`;
  const names = stacks.map((s) => s.diff.stack);
  // The longest note it may take, room kept for it from the first block on: the longest names
  // first (the note shows the first few of those it drops, whichever they are).
  const reserve = cutNote([...names].sort((a, b) => b.length - a.length)).length;
  let body = "";
  let shown = 0;
  let partial = false;
  for (const s of stacks) {
    const budget = limit - summary.length - 1 - reserve - body.length;
    const lines = detailLines(s);
    const whole = detailsBlock(s, lines);
    if (whole.length <= budget) {
      body += whole;
      shown++;
      continue;
    }
    // Keep as many lines as fit beside the block's frame and the note on what was cut.
    let kept = lines.length;
    const note = (n: number) => `… ${lines.length - n} more lines cut`;
    let block = detailsBlock(s, lines.slice(0, kept), note(kept));
    while (kept > 0 && block.length > budget) {
      kept = Math.max(
        0,
        kept - Math.max(1, Math.ceil((kept * (block.length - budget)) / block.length)),
      );
      block = detailsBlock(s, lines.slice(0, kept), note(kept));
    }
    partial = block.length <= budget;
    if (partial) body += block;
    break;
  }
  if (shown === stacks.length) return `${summary}\n${body}`;
  return `${summary}\n${body}${cutNote(names.slice(shown + (partial ? 1 : 0)))}`;
}

// --- JSON --------------------------------------------------------------------------------

/** The `--json` document. */
export function reportJson(report: DiffReport): unknown {
  return {
    base: report.base,
    head: report.head,
    changed: changedStacks(report).length > 0,
    stacks: report.stacks.map(({ diff, summary }) => ({ ...summary, ...diff })),
  };
}
