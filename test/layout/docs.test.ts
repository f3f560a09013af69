/**
 * The repository documents itself: a clone from GitHub has the whole design and every page a
 * link points to. Nothing tracked may send a reader to the shared folder beside the clone, the
 * README stays a first page (what avfleet is, the two commands, a tour, links), each kind of
 * reader has a first page under docs/, and every relative link in the Markdown we publish
 * reaches a file — and, with a `#anchor`, a heading of that file as GitHub names it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "../support/cli";

/** Tracked files, so a scratch file or node_modules never decides the result. */
const tracked = (): string[] =>
  execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" })
    .split("\0")
    .filter((f) => f !== "" && existsSync(join(ROOT, f)));

/** The Markdown readers land on: the README, the changelog and everything under docs/. */
const published = (): string[] =>
  tracked().filter(
    (f) =>
      f === "README.md" || f === "CHANGELOG.md" || (f.startsWith("docs/") && f.endsWith(".md")),
  );

/** Markdown without its fenced code blocks and inline code, where a `[x](y)` is not a link. */
export function prose(markdown: string): string {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split("\n")) {
    const opener = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence) {
      if (opener && opener[0] === fence[0] && opener.length >= fence.length) fence = undefined;
      lines.push("");
    } else if (opener) {
      fence = opener;
      lines.push("");
    } else lines.push(line.replace(/(`+)[^`]*?\1/g, ""));
  }
  return lines.join("\n");
}

/**
 * GitHub's heading anchor: the heading's text (link targets and emphasis marks dropped),
 * lowercased, every character that is not a letter, digit, space, `-` or `_` dropped, spaces
 * turned to `-`; a repeated heading gets `-1`, `-2`, … Explicit `<a id>`/`<a name>` count too.
 */
export function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | undefined;
  for (const line of markdown.split("\n")) {
    const opener = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence) {
      if (opener && opener[0] === fence[0] && opener.length >= fence.length) fence = undefined;
      continue;
    }
    if (opener) {
      fence = opener;
      continue;
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) found.add(m[1]);
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    found.add(n === 0 ? base : `${base}-${n}`);
  }
  return found;
}

export function slug(text: string): string {
  return text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .trim()
    .replace(/\s/g, "-");
}

/** Every relative `[text](target)` and `![alt](target)` of a file, with its line. */
function relativeLinks(markdown: string): { target: string; line: number }[] {
  const links: { target: string; line: number }[] = [];
  prose(markdown)
    .split("\n")
    .forEach((text, i) => {
      for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        const target = m[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        links.push({ target, line: i + 1 });
      }
    });
  return links;
}

/** Spelled in two parts so that this file does not name what it looks for. */
const OUTSIDE = ["..", "shared"].join("/");

test("no tracked file sends a reader to the shared folder outside the repository", () => {
  const offenders = tracked().filter((f) => {
    const path = join(ROOT, f);
    if (!statSync(path).isFile()) return false;
    return readFileSync(path, "latin1").includes(OUTSIDE);
  });
  assert.deepEqual(offenders, []);
});

test("the README is a first page: at most 300 lines", () => {
  const lines = readFileSync(join(ROOT, "README.md"), "utf8").trimEnd().split("\n").length;
  assert.ok(
    lines <= 300,
    `README.md has ${lines} lines; move reference material to docs/reference/`,
  );
});

test("the design and one first page per reader exist, and the README links to each", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  for (const page of [
    "docs/design.md",
    "docs/platform-engineer.md",
    "docs/operator.md",
    "docs/reviewer.md",
    "CHANGELOG.md",
  ]) {
    assert.ok(existsSync(join(ROOT, page)), `${page} is missing`);
    assert.ok(readme.includes(`](${page})`), `README.md does not link to ${page}`);
  }
});

test("every relative link in README.md, CHANGELOG.md and docs/ reaches a file and its heading", () => {
  const broken: string[] = [];
  const anchorsOf = new Map<string, Set<string>>();
  for (const file of published()) {
    const markdown = readFileSync(join(ROOT, file), "utf8");
    for (const { target, line } of relativeLinks(markdown)) {
      const [pathPart, anchor] = target.split("#", 2) as [string, string | undefined];
      const path =
        pathPart === ""
          ? join(ROOT, file)
          : resolve(dirname(join(ROOT, file)), decodeURI(pathPart));
      const where = `${file}:${line}: ${target}`;
      if (!path.startsWith(`${ROOT}/`) && path !== ROOT) {
        broken.push(`${where}: leaves the repository`);
        continue;
      }
      if (!existsSync(path)) {
        broken.push(`${where}: no such file`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!path.endsWith(".md")) {
        broken.push(`${where}: an anchor into a file that is not Markdown`);
        continue;
      }
      const key = relative(ROOT, path);
      if (!anchorsOf.has(key)) anchorsOf.set(key, anchors(readFileSync(path, "utf8")));
      if (!anchorsOf.get(key)!.has(decodeURIComponent(anchor)))
        broken.push(`${where}: ${key} has no heading #${anchor}`);
    }
  }
  assert.deepEqual(broken, []);
});

test("the anchor rules are GitHub's", () => {
  assert.equal(slug("Where pages go (`alerting.notify`)"), "where-pages-go-alertingnotify");
  assert.equal(
    slug("Reading inputs: limits, checks, decisions"),
    "reading-inputs-limits-checks-decisions",
  );
  assert.equal(slug("First `pulumi up`"), "first-pulumi-up");
  assert.equal(
    slug("GCP scale-in: drain first (modules/fleets/gcp-scale-in.*)"),
    "gcp-scale-in-drain-first-modulesfleetsgcp-scale-in",
  );
  assert.deepEqual(
    [...anchors('# A\n\n## A\n```\n# not a heading\n```\n<a id="x"></a>')],
    ["a", "a-1", "x"],
  );
  assert.deepEqual(relativeLinks("[a](b.md) `[c](d.md)` [e](https://x)\n```\n[f](g.md)\n```"), [
    { target: "b.md", line: 1 },
  ]);
});
