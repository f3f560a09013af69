/**
 * Generated estates for the benchmarks: bare-metal sites of any size, a Discord-scale set of
 * cloud pools and traffic splits, all derived from this project's example stacks, and the
 * SDK floor to compare them with.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { DEFAULT_STACKS_DIR, stackFileName } from "../modules/stacks/stack";
import { ROOT } from "../test/support/cli";

type Doc = Record<string, any>;

const example = (stack: string): Doc =>
  YAML.parse(readFileSync(stackFileName(join(ROOT, DEFAULT_STACKS_DIR), stack), "utf8"));

/**
 * Seconds the SDK itself takes to register `count` bare custom resources under mocks in one
 * fresh process: the floor for evaluating that many resources.
 */
export function floorSeconds(count: number): number {
  const out = execFileSync(
    process.execPath,
    ["--import", "tsx", join(ROOT, "bench/sdk-floor.ts"), String(count)],
    { encoding: "utf8" },
  );
  return (JSON.parse(out) as { ms: number }).ms / 1000;
}

/**
 * A host key line as ssh-keygen writes it: the ed25519 public key blob (type name, then 32 key
 * bytes, each length-prefixed) in base64, the key bytes derived from the host's name.
 */
function hostKey(host: string): string {
  const type = Buffer.from("ssh-ed25519");
  const key = createHash("sha256").update(host).digest();
  const length = (n: number) => Buffer.from([0, 0, 0, n]);
  const blob = Buffer.concat([length(type.length), type, length(key.length), key]);
  return `ssh-ed25519 ${blob.toString("base64")} root@${host}`;
}

/** Hosts per rack in generated sites. */
const RACK_HOSTS = 50;

/**
 * A bare-metal site of `hosts` hosts (50 per rack, racks declared on two power feeds and
 * four spines, two host classes, a few draining and retired, a host key per host), built from
 * metal-sjc, written as <dir>/stacks/Pulumi.<stack>.yaml and <dir>/inventory/<stack>.yaml
 * (both directories must exist). Public addresses come from 100.0.0.0/10, global unicast
 * space (the validator refuses the RFC 2544 benchmarking range, as it should for a real
 * site) and more than the RFC 5737 documentation ranges hold.
 */
export function writeSite(dir: string, stack: string, hosts: number, mediaRegion?: string): void {
  const site = stack.replace(/^metal-/, "");
  const inventory = YAML.parse(readFileSync(join(ROOT, "inventory/metal-sjc.yaml"), "utf8"));
  const rack = (i: number) => `r${String(Math.floor(i / RACK_HOSTS) + 1).padStart(3, "0")}`;
  const racks = Math.ceil(hosts / RACK_HOSTS);
  inventory.site = site;
  inventory.racks = Object.fromEntries(
    Array.from({ length: racks }, (_, r) => [
      rack(r * RACK_HOSTS),
      { power: r % 2 ? "feed-b" : "feed-a", network: `spine-${(r >> 1) % 4}` },
    ]),
  );
  inventory.hosts = Array.from({ length: hosts }, (_, i) => {
    const name = `${site}-m${String(i + 1).padStart(5, "0")}`;
    const state = i % 97 === 3 ? "draining" : i % 101 === 7 ? "retired" : "active";
    return {
      name,
      publicIp: `100.${i >> 16}.${(i >> 8) & 255}.${i & 255}`,
      privateIp: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
      rack: rack(i),
      class: i % 2 ? "r6525-2x100g" : "r640-2x25g",
      state,
      ...(state === "retired" ? {} : { hostKey: hostKey(name) }),
    };
  });
  writeFileSync(join(dir, "inventory", `${stack}.yaml`), YAML.stringify(inventory));
  const doc = example("metal-sjc");
  const fleet = doc.config["avfleet:fleet"];
  Object.assign(fleet, {
    site,
    pool: stack,
    endpoint: `edge.${site}.media.example.net`,
    inventory: `inventory/${stack}.yaml`,
    ...(mediaRegion ? { mediaRegion } : {}),
  });
  writeFileSync(stackFileName(join(dir, DEFAULT_STACKS_DIR), stack), YAML.stringify(doc));
}

const MEDIA_REGIONS = ["us-west", "eu-west", "us-east", "ap-south", "sa-east", "eu-north"];

/**
 * The estate of issue 17 in the project at `dir`: `cloudPools` cloud pools (GCP and AWS in
 * turn) spread over six media regions, the two example metal sites, a generated site of
 * `bigSiteHosts` hosts, and one traffic split per media region over its pools.
 * Returns the stack names.
 */
export function writeEstate(dir: string, cloudPools: number, bigSiteHosts: number): string[] {
  const stacksDir = join(dir, DEFAULT_STACKS_DIR);
  const pools = new Map<string, string[]>(MEDIA_REGIONS.map((r) => [r, []]));
  const names: string[] = [];
  const write = (name: string, doc: Doc) => {
    writeFileSync(stackFileName(stacksDir, name), YAML.stringify(doc));
    names.push(name);
  };
  for (const metal of ["metal-sjc", "metal-ams"]) {
    write(metal, example(metal));
    pools.get(example(metal).config["avfleet:fleet"].mediaRegion)!.push(metal);
  }
  writeSite(dir, "metal-big", bigSiteHosts, "us-east");
  names.push("metal-big");
  pools.get("us-east")!.push("metal-big");
  for (let i = 0; i < cloudPools; i++) {
    const template = ["gcp-us-west1", "aws-us-east-1", "gcp-europe-west4", "aws-eu-central-1"][
      i % 4
    ];
    const mediaRegion = MEDIA_REGIONS[i % MEDIA_REGIONS.length];
    const name = `${template.split("-")[0]}-${mediaRegion}-${String(i + 1).padStart(2, "0")}`;
    const doc = example(template);
    Object.assign(doc.config["avfleet:fleet"], {
      mediaRegion,
      pool: name,
      endpoint: `edge.${name}.media.example.net`,
    });
    write(name, doc);
    pools.get(mediaRegion)!.push(name);
  }
  for (const [mediaRegion, members] of pools) {
    const doc = example("traffic-us-west");
    const traffic = doc.config["avfleet:traffic"];
    const share = Math.floor(100 / members.length);
    Object.assign(traffic, {
      mediaRegion,
      dns: { ...traffic.dns, recordName: `join.${mediaRegion}.media.example.net` },
      pools: members.map((stack, i) => ({
        stack,
        weight: i === 0 ? 100 - share * (members.length - 1) : share,
      })),
    });
    write(`traffic-${mediaRegion}`, doc);
  }
  return names.sort();
}
