/** Problems with an input: what each says, and how a run prints them, sorted, at once. */
/** A key path inside a document: property names and array indexes. */
export type KeyPath = readonly (string | number)[];

/** One thing wrong with an input. */
export interface Problem {
  path: KeyPath;
  /** What is wrong, e.g. `is 80`. */
  message: string;
  /** What would be right, e.g. `a port in 1024–65535`. */
  expected: string;
  /** Where in the text, for problems of the YAML itself (they have no key path yet). */
  position?: { line: number; col: number };
  /**
   * The list item the problem is about, by name (e.g. a host's), said after the message. The
   * same problem on several items of one list is one line naming them all.
   */
  subject?: string;
}

/** A problem with the file it is in: checks that span files (a stack and its inventory). */
export interface FileProblem extends Problem {
  file: string;
}

/** Bad input: every problem found, already formatted. The CLI prints them and exits 2. */
export class InputError extends Error {
  constructor(
    readonly lines: string[],
    /** The problems behind the lines, where known: a caller merging several files sorts them. */
    readonly problems: FileProblem[] = [],
  ) {
    super(lines.join("\n"));
    this.name = "InputError";
  }
}

export function formatKeyPath(path: KeyPath): string {
  if (path.length === 0) return "(document)";
  return path
    .map((segment, i) =>
      typeof segment === "number" ? `[${segment}]` : i === 0 ? segment : `.${segment}`,
    )
    .join("");
}

export function formatProblem(file: string, problem: Problem): string {
  const where = problem.position
    ? `${problem.position.line}:${problem.position.col}`
    : formatKeyPath(problem.path);
  const subject = problem.subject === undefined ? "" : ` ${problem.subject}`;
  return `${file}: ${where}: ${problem.message}${subject}, expected ${problem.expected}`;
}

/** Most indexes and subjects a grouped line spells out before "…". */
const GROUP_SHOWN = 40;

function listed(items: readonly (string | number)[]): string {
  const shown = items.slice(0, GROUP_SHOWN).join(", ");
  return items.length > GROUP_SHOWN ? `${shown}, … ${items.length - GROUP_SHOWN} more` : shown;
}

/**
 * One line per problem, except that the same problem (message and expected) at the same key
 * of several items of one list is one line: `hosts[3, 5, 9].hostKey (3 items: a, b, c): …`.
 * Twenty-nine near-identical lines hide the one that differs.
 */
export function formatProblems(problems: readonly FileProblem[]): string[] {
  const groups = new Map<string, FileProblem[]>();
  const order: FileProblem[][] = [];
  for (const p of problems) {
    const item = p.position ? -1 : p.path.findIndex((segment) => typeof segment === "number");
    const shape = p.path.map((segment, i) => (i === item ? "*" : String(segment)));
    const key =
      item < 0 ? `${order.length}` : [p.file, item, ...shape, p.message, p.expected].join("\0");
    const group = groups.get(key);
    if (group) group.push(p);
    else {
      groups.set(key, [p]);
      order.push(groups.get(key)!);
    }
  }
  return [
    ...new Set(
      order.map((group) => {
        const [first] = group;
        if (group.length === 1) return formatProblem(first.file, first);
        const item = first.path.findIndex((segment) => typeof segment === "number");
        const indexes = [...new Set(group.map((p) => p.path[item]))];
        const list = formatKeyPath(first.path.slice(0, item + 1)).replace(
          /\[\d+\]$/,
          `[${listed(indexes)}]`,
        );
        const rest = formatKeyPath(["", ...first.path.slice(item + 1)]);
        const subjects = group.flatMap((p) => (p.subject === undefined ? [] : [p.subject]));
        const items = `(${indexes.length} items${subjects.length ? `: ${listed(subjects)}` : ""})`;
        return `${first.file}: ${list}${rest} ${items}: ${first.message}, expected ${first.expected}`;
      }),
    ),
  ];
}

function compareSegments(a: string | number, b: string | number): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  const [x, y] = [String(a), String(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Text positions first (in text order), then key paths segment by segment, indexes numerically. */
function compareProblems(a: Problem, b: Problem): number {
  if (a.position || b.position) {
    if (!a.position) return 1;
    if (!b.position) return -1;
    return a.position.line - b.position.line || a.position.col - b.position.col;
  }
  for (let i = 0; i < Math.min(a.path.length, b.path.length); i++) {
    const order = compareSegments(a.path[i], b.path[i]);
    if (order !== 0) return order;
  }
  return a.path.length - b.path.length;
}

/** Throws an InputError when there are problems, sorted by file, then by key path. */
export function assertNoFileProblems(problems: FileProblem[]): void {
  if (problems.length === 0) return;
  // A stable sort: problems at one path keep the order they were found in.
  const sorted = [...problems].sort(
    (a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) || compareProblems(a, b),
  );
  throw new InputError(formatProblems(sorted), sorted);
}

/** Throws an InputError when there are problems, sorted by key path. */
export function assertNoProblems(file: string, problems: Problem[]): void {
  assertNoFileProblems(inFile(file, problems));
}

export function inFile(file: string, problems: Problem[]): FileProblem[] {
  return problems.map((p) => ({ ...p, file }));
}
