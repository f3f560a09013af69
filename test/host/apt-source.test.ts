/**
 * The package's apt source as the bootstrap writes it, read by Debian's own apt: a signed
 * repository built here (dpkg-deb, a hand-made Release clear-signed by gpg) and served over
 * HTTP on loopback; the rendered key and deb822 source bound over /etc/apt/keyrings and
 * /etc/apt/sources.list.d in a private mount namespace, apt's lists and cache in a scratch
 * directory. Signed by another key, apt refuses the repository.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { APT_KEY_PATH, APT_SOURCE_PATH, aptSourceFiles } from "../../modules/host/bootstrap";
import { isRoot, missingCommands, prerequisite } from "../support/prerequisites";

const run = (argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) => {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", ...opts });
  assert.equal(r.status, 0, `${argv.join(" ")}: ${r.stdout}${r.stderr}`);
  return r.stdout;
};

/** An ed25519 signing key in its own keyring; returns its armored public key. */
function signingKey(home: string, name: string): string {
  mkdirSync(home, { mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: home };
  run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", name, "ed25519", "sign", "never"], {
    env,
  });
  return run(["gpg", "--armor", "--export", name], { env });
}

/** A one-package repository: pool/, dists/bookworm/{InRelease, main/binary-amd64/Packages}. */
function repository(dir: string, gnupg: string, name: string) {
  const pkg = join(dir, "build");
  mkdirSync(join(pkg, "DEBIAN"), { recursive: true });
  mkdirSync(join(pkg, "usr/bin"), { recursive: true });
  writeFileSync(join(pkg, "usr/bin/avfleet-sfu"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  writeFileSync(
    join(pkg, "DEBIAN/control"),
    [
      "Package: avfleet-sfu",
      "Version: 2.4.1-1",
      "Architecture: all",
      "Maintainer: media <media@example.net>",
      "Description: a stand-in media server",
      "",
    ].join("\n"),
  );
  const repo = join(dir, "repo");
  mkdirSync(join(repo, "pool/main"), { recursive: true });
  const deb = "pool/main/avfleet-sfu_2.4.1-1_all.deb";
  run(["dpkg-deb", "--root-owner-group", "--build", pkg, join(repo, deb)]);
  const bytes = readFileSync(join(repo, deb));
  const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
  const packages = `${run(["dpkg-deb", "-f", join(repo, deb)]).trimEnd()}\nFilename: ${deb}\nSize: ${bytes.length}\nSHA256: ${sha(bytes)}\n`;
  const lists = join(repo, "dists/bookworm/main/binary-amd64");
  mkdirSync(lists, { recursive: true });
  writeFileSync(join(lists, "Packages"), packages);
  const release = [
    "Suite: bookworm",
    "Codename: bookworm",
    `Date: ${new Date().toUTCString().replace("GMT", "UTC")}`,
    "Architectures: amd64 all",
    "Components: main",
    "SHA256:",
    ` ${sha(packages)} ${Buffer.byteLength(packages)} main/binary-amd64/Packages`,
    "",
  ].join("\n");
  writeFileSync(join(repo, "dists/bookworm/Release"), release);
  run(
    [
      "gpg",
      "--batch",
      "--local-user",
      name,
      "--clearsign",
      "-o",
      join(repo, "dists/bookworm/InRelease"),
      join(repo, "dists/bookworm/Release"),
    ],
    { env: { ...process.env, GNUPGHOME: gnupg } },
  );
  return repo;
}

// apt reads the rendered files where the bootstrap puts them; lists, cache and status are its
// own, so the machine's apt is untouched.
const APT = `set -e
d=$1; shift
mount --bind "$d/keyrings" /etc/apt/keyrings
mount --bind "$d/sources" /etc/apt/sources.list.d
o="-o Dir::Etc::SourceList=/dev/null -o Dir::State::Lists=$d/lists -o Dir::Cache=$d/cache -o Dir::State::status=$d/status -o Debug::NoLocking=1"
# shellcheck disable=SC2086
apt-get $o update
# shellcheck disable=SC2086
apt-get $o install --download-only -y -qq avfleet-sfu=2.4.1-1`;

test("the package's apt source, as the bootstrap renders it, is one Debian's apt reads: it fetches the package it pins from the repository signed by the key; signed by another, it refuses the repository", async (t) => {
  const missing = !isRoot() ? "root" : missingCommands("gpg", "dpkg-deb", "apt-get", "unshare");
  if (!prerequisite(t, missing)) return;
  const dir = mkdtempSync(join(tmpdir(), "apt-source-"));
  const server = spawn("python3", ["-m", "http.server", "--bind", "127.0.0.1", "0"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    const key = signingKey(join(dir, "gnupg"), "avfleet test repository");
    const other = signingKey(join(dir, "gnupg-other"), "someone else");
    const repo = repository(dir, join(dir, "gnupg"), "avfleet test repository");
    const port = await new Promise<string>((resolve, reject) => {
      let said = "";
      server.stdout.on("data", (b: Buffer) => {
        said += b.toString();
        const m = /port (\d+)/.exec(said);
        if (m) resolve(m[1]);
      });
      server.on("exit", () => reject(new Error(`http.server exited: ${said}`)));
    });
    const spec = (armored: string) =>
      ({
        workload: {
          package: "avfleet-sfu",
          version: "2.4.1-1",
          aptSource: {
            uri: `http://127.0.0.1:${port}/${repo.slice(dir.length + 1)}`,
            suite: "bookworm",
            components: ["main"],
            key: armored,
          },
        },
      }) as unknown as FleetSpec;
    const apt = (armored: string) => {
      const box = mkdtempSync(join(dir, "apt-"));
      for (const sub of ["keyrings", "sources", "lists/partial", "cache/archives/partial"]) {
        mkdirSync(join(box, sub), { recursive: true });
      }
      writeFileSync(join(box, "status"), "");
      for (const file of aptSourceFiles(spec(armored))) {
        const at = file.path === APT_KEY_PATH ? "keyrings" : "sources";
        writeFileSync(join(box, at, file.path.split("/").at(-1)!), file.content, { mode: 0o644 });
      }
      mkdirSync("/etc/apt/keyrings", { recursive: true });
      const r = spawnSync(
        "unshare",
        ["--mount", "--propagation", "private", "sh", "-c", APT, "sh", box],
        {
          encoding: "utf8",
        },
      );
      return { ...r, box };
    };

    const files = aptSourceFiles(spec(key));
    assert.deepEqual(
      files.map((f) => f.path),
      [APT_KEY_PATH, APT_SOURCE_PATH],
    );
    assert.equal(
      files[1].content,
      `Types: deb\nURIs: http://127.0.0.1:${port}/repo\nSuites: bookworm\nComponents: main\nSigned-By: /etc/apt/keyrings/avfleet.asc\n`,
    );

    const fetched = apt(key);
    assert.equal(fetched.status, 0, fetched.stdout + fetched.stderr);
    const archive = join(fetched.box, "cache/archives/avfleet-sfu_2.4.1-1_all.deb");
    assert.ok(statSync(archive).size > 0, "the pinned version was fetched");

    const refused = apt(other);
    assert.notEqual(refused.status, 0, refused.stdout + refused.stderr);
    assert.match(refused.stdout + refused.stderr, /NO_PUBKEY|not signed/);
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
