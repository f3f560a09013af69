import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { loadInventory } from "../../modules/inventory/inventory";
import { loadStackFile, loadStacks, validateStackDocument } from "../../modules/stacks/stack";
import { InputError } from "../../modules/inputs/problems";
import { EvaluationError, evaluateStacks } from "../../modules/evaluation/evaluate";
import type { Plan, PlanResource } from "../../modules/plan/plan";
import { nextUp, stateOf, type State, type UpResult } from "../../modules/plan/next-up";
import { planBatches, unavailableHosts } from "../../modules/release/batches";
import { planHash, releaseId } from "../../modules/release/intent";
import { applyCommand, payloadFile } from "../../modules/host-payloads/metal-payload";
import {
  identityFile,
  knownHostsFile,
  masterScript,
  sshConfigFile,
  sshFiles,
} from "../../modules/host-payloads/metal-ssh";
import { DRAIN_REQUEST_MARKER, METAL_PAYLOAD_TYPE } from "../../policy/contract/rules";
import { sha256 } from "../../modules/tuning";
import { renderPreview } from "../../modules/plan/render-preview";
import { writeSite } from "../../bench/estate";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";
import { problemsLoading } from "../support/problems";

/**
 * The one sudoers rule of every site, release and host class: install a payload root-owned,
 * read its sha256, run it; nothing else.
 */
const SUDOERS_RULE =
  "avfleet ALL=(root) NOPASSWD: /usr/bin/install -D -o root -g root -m 0700 /dev/stdin /var/lib/avfleet/payload.sh, /usr/bin/sha256sum /var/lib/avfleet/payload.sh, /bin/sh /var/lib/avfleet/payload.sh";

const HOST_KEY =
  "an SSH host public key line like 'ssh-ed25519 AAAA... root@host' (ed25519 or ecdsa; the host's /etc/ssh/ssh_host_ed25519_key.pub)";
const INVENTORY = YAML.parse(readFileSync(join(ROOT, "inventory/metal-sjc.yaml"), "utf8"));
const STACK = YAML.parse(readFileSync(join(ROOT, "stacks/Pulumi.metal-sjc.yaml"), "utf8"));

/**
 * The stacks folder of a project of its own, whose inventory/ holds the example sites'
 * inventories: a stack names only files inside its project.
 */
function tempDir(): string {
  const project = mkdtempSync(join(tmpdir(), "avfleet-metal-"));
  cpSync(join(ROOT, "inventory"), join(project, "inventory"), { recursive: true });
  mkdirSync(join(project, "stacks"));
  return join(project, "stacks");
}

function inventoryProblems(change: (inv: any) => void): string[] {
  const inv = structuredClone(INVENTORY);
  change(inv);
  return problemsLoading(loadInventory, "inv.yaml", YAML.stringify(inv));
}

const corpus: [string, (inv: any) => void, string[]][] = [
  [
    "duplicate name",
    (inv) => (inv.hosts[3].name = "sjc-m001"),
    ['hosts[3].name: is "sjc-m001", already used by hosts[0], expected a name no other host has'],
  ],
  [
    "duplicate public IP",
    (inv) => (inv.hosts[2].publicIp = inv.hosts[1].publicIp),
    [
      'hosts[2].publicIp: is "198.51.100.12", already used by hosts[1], expected a publicIp no other host has',
    ],
  ],
  [
    "duplicate private IP",
    (inv) => (inv.hosts[9].privateIp = inv.hosts[0].privateIp),
    [
      'hosts[9].privateIp: is "10.20.1.11", already used by hosts[0], expected a privateIp no other host has',
    ],
  ],
  [
    "invalid IP",
    (inv) => (inv.hosts[0].publicIp = "198.51.100.256"),
    ['hosts[0].publicIp: is "198.51.100.256", expected a public (global unicast) IPv4 address'],
  ],
  [
    "IPv6 where IPv4 is expected",
    (inv) => (inv.hosts[0].privateIp = "fd00::1"),
    ['hosts[0].privateIp: is "fd00::1", expected a private (RFC 1918) IPv4 address'],
  ],
  [
    "name with an underscore",
    (inv) => (inv.hosts[0].name = "sjc_m001"),
    [
      'hosts[0].name: is "sjc_m001", expected an RFC 1123 host name label (lowercase letters, digits, inner -)',
    ],
  ],
  [
    "name with capitals",
    (inv) => (inv.hosts[0].name = "SJC-M001"),
    [
      'hosts[0].name: is "SJC-M001", expected an RFC 1123 host name label (lowercase letters, digits, inner -)',
    ],
  ],
  [
    "name ending in a hyphen",
    (inv) => (inv.hosts[0].name = "sjc-m001-"),
    [
      'hosts[0].name: is "sjc-m001-", expected an RFC 1123 host name label (lowercase letters, digits, inner -)',
    ],
  ],
  [
    "unknown state",
    (inv) => (inv.hosts[0].state = "maintenance"),
    ['hosts[0].state: is "maintenance", expected one of "active" | "draining" | "retired"'],
  ],
  [
    "unknown host class",
    (inv) => (inv.hosts[0].class = "r750"),
    [
      'hosts[0].class: is "r750", not a defined host class, expected one of r640-2x25g, r6525-2x100g',
    ],
  ],
  [
    "a rack with all hosts draining",
    (inv) => {
      for (const h of inv.hosts) if (h.rack === "r02") h.state = "draining";
    },
    [
      "hosts: rack r02 has all 11 hosts draining, expected at least one active or retired host per rack",
    ],
  ],
  [
    "missing key",
    (inv) => delete inv.hosts[5].rack,
    ["hosts[5].rack: is missing, expected a rack declared under racks, like r01"],
  ],
  [
    "a provisioned host without a host key",
    (inv) => delete inv.hosts[4].hostKey,
    [
      `hosts[4].hostKey: is missing on host sjc-m005, expected ${HOST_KEY}; only retired hosts may omit it`,
    ],
  ],
  [
    "an RSA host key",
    (inv) => (inv.hosts[0].hostKey = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 root@sjc-m001"),
    [
      `hosts[0].hostKey: is "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 root@sjc-m001", expected ${HOST_KEY}`,
    ],
  ],
  [
    "a host key that is a file name",
    (inv) => (inv.hosts[0].hostKey = "/etc/ssh/ssh_host_ed25519_key.pub"),
    [`hosts[0].hostKey: is "/etc/ssh/ssh_host_ed25519_key.pub", expected ${HOST_KEY}`],
  ],
];

for (const [name, change, expected] of corpus) {
  test(`bad inventory: ${name}`, () => assert.deepEqual(inventoryProblems(change), expected));
}

function stackProblems(change: (config: any) => void): string[] {
  const doc = structuredClone(STACK);
  change(doc.config);
  // Resolved against this repository, where the inventory the stack names is.
  const load = (file: string) =>
    validateStackDocument(file, YAML.parse(readFileSync(file, "utf8")), join(ROOT, "stacks"));
  return problemsLoading(load, "Pulumi.metal-x.yaml", YAML.stringify(doc));
}

test("the SSH private key must be a Pulumi secret, never plain text", () => {
  assert.deepEqual(
    stackProblems((c) => (c["avfleet:sshPrivateKey"] = "-----BEGIN OPENSSH PRIVATE KEY-----")),
    [
      'config.avfleet:sshPrivateKey: is string "-----BEGIN OPENSSH PRIVATE KEY-----", expected a Pulumi secret (pulumi config set --secret avfleet:sshPrivateKey < key), never plain text',
    ],
  );
  assert.deepEqual(
    stackProblems((c) => delete c["avfleet:sshPrivateKey"]),
    [
      "config.avfleet:sshPrivateKey: is missing, expected a Pulumi secret (pulumi config set --secret avfleet:sshPrivateKey < key), never plain text",
    ],
  );
});

test("with ssh.agent the site has no key in its config: none is asked for, and one set anyway is refused", () => {
  const dir = tempDir();
  const doc = structuredClone(STACK);
  doc.config["avfleet:fleet"].ssh.agent = true;
  delete doc.config["avfleet:sshPrivateKey"];
  writeFileSync(join(dir, "Pulumi.metal-agent.yaml"), YAML.stringify(doc));
  assert.equal(loadStackFile(join(dir, "Pulumi.metal-agent.yaml")).fleet?.kind, "metal");
  assert.deepEqual(
    stackProblems((c) => (c["avfleet:fleet"].ssh.agent = true)),
    [
      "config.avfleet:sshPrivateKey: is set, but avfleet:fleet.ssh.agent is true: the hosts are reached with the operator's ssh-agent, never with this key, expected no avfleet:sshPrivateKey (pulumi config rm avfleet:sshPrivateKey), or ssh.agent false",
    ],
  );
});

test("a bastion needs its host key pinned", () => {
  assert.deepEqual(
    stackProblems((c) => delete c["avfleet:fleet"].ssh.bastion.hostKey),
    [`config.avfleet:fleet.ssh.bastion.hostKey: is missing, expected ${HOST_KEY}`],
  );
});

test("Route53 host records need the aws provider's region", () => {
  assert.deepEqual(
    stackProblems((c) => delete c["aws:region"]),
    [
      "config.aws:region: is missing, expected the route53 provider's aws:region, since dns.provider is route53",
    ],
  );
});

test("a bad inventory stops preview with exit 2 before anything is evaluated", async () => {
  const dir = tempDir();
  const inv = structuredClone(INVENTORY);
  inv.hosts[1].name = "sjc-m001";
  writeFileSync(join(dir, "inv.yaml"), YAML.stringify(inv));
  const doc = structuredClone(STACK);
  doc.config["avfleet:fleet"].inventory = "stacks/inv.yaml";
  writeFileSync(join(dir, "Pulumi.metal-x.yaml"), YAML.stringify(doc));
  assert.throws(
    () => loadStacks(dir, ["metal-x"]),
    (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.deepEqual(err.lines, [
        `${join(dir, "inv.yaml")}: hosts[1].name: is "sjc-m001", already used by hosts[0], expected a name no other host has`,
      ]);
      return true;
    },
  );
});

/** Writes metal-sjc with `change` applied to its stack config and inventory; returns its name. */
function variantWriter(dir: string) {
  return (name: string, change: (config: any, inventory: any) => void = () => {}) => {
    const inventory = structuredClone(INVENTORY);
    const doc = structuredClone(STACK);
    change(doc.config, inventory);
    writeFileSync(join(dir, `${name}.yaml`), YAML.stringify(inventory));
    doc.config["avfleet:fleet"].inventory = `stacks/${name}.yaml`;
    writeFileSync(join(dir, `Pulumi.${name}.yaml`), YAML.stringify(doc));
    return name;
  };
}

const byType = (plan: Plan, type: string, suffix: string) =>
  new Map(
    plan.resources
      .filter((r) => r.type === type && r.name.endsWith(suffix))
      .map((r) => [
        r.name.slice("metal-sjc-".length, -suffix.length),
        r as PlanResource & { inputs: any },
      ]),
  );

test("per site: each class's payload once; per host a small command that pipes it by sha256 through the site's ssh_config and runs it; a draining host only its drain request; retired hosts nothing", async () => {
  const [plan] = await evaluateStacks(loadStacks(join(ROOT, "stacks"), ["metal-sjc"]));
  const payloads = plan.resources.filter((r) => r.type === METAL_PAYLOAD_TYPE);
  assert.deepEqual(
    payloads.map((r) => [r.name, (r.inputs as any).of]),
    [
      ["metal-sjc-payload-r640-2x25g", "r640-2x25g"],
      ["metal-sjc-payload-r6525-2x100g", "r6525-2x100g"],
      ["metal-sjc-payload-drain", "drain"],
    ],
  );
  const classes = plan.outputs.release as any;
  for (const r of payloads) {
    const { of, sha, payload } = r.inputs as any;
    assert.equal(sha, sha256(payload), "a payload is named by its sha256");
    if (of === "drain") continue;
    assert.equal(classes.classes[of], sha);
    assert.match(payload, /^# avfleet-tune 1 profile=media-udp hash=[0-9a-f]{64}\n/);
    // The project keeps the file its hosts' commands feed them, byte for byte.
    assert.equal(readFileSync(join(ROOT, payloadFile(sha)), "utf8"), payload);
  }
  assert.equal(classes.rendered, releaseId(classes.classes));
  assert.equal(classes.rollout, undefined);

  const commands = byType(plan, "command:local:Command", "-tune");
  const drains = byType(plan, "command:local:Command", "-drain");
  // 48 hosts: 44 active get their class's payload, sjc-m005 and sjc-m017 a drain request,
  // the retired sjc-m030 and sjc-m031 nothing.
  assert.equal(commands.size, 44);
  assert.deepEqual([...drains.keys()], ["sjc-m005", "sjc-m017"]);
  const classOf = new Map(INVENTORY.hosts.map((h: any) => [h.name, h.class]));
  for (const [host, command] of commands) {
    const sha = classes.classes[classOf.get(host) as string];
    // Nothing of the connection: the host's name in the site's ssh_config, its key a trigger.
    assert.deepEqual(Object.keys(command.inputs).sort(), ["create", "triggers"]);
    assert.equal(command.inputs.create, siteCommand(host, sha));
    assert.deepEqual(command.inputs.triggers, [
      INVENTORY.hosts.find((h: any) => h.name === host).hostKey,
    ]);
    // No rollout of this release: an existing host keeps what it runs.
    assert.deepEqual(command.ignoreChanges, ["create", "triggers"]);
  }
  const drain = drains.get("sjc-m005")!.inputs.create;
  assert.match(drain, /\/var\/lib\/avfleet\/drain-requested/);
  assert.ok(drain.includes(DRAIN_REQUEST_MARKER));
  assert.doesNotMatch(drain, /avfleet-tune/);
  assert.ok(drain.length < 2048, `a drain request stays small: ${drain.length} bytes`);

  const records = plan.resources.filter((r) => r.type === "aws:route53/record:Record");
  assert.equal(records.length, 44, "DNS only for active hosts");
  const m001 = records.find((r) => r.name === "metal-sjc-sjc-m001-dns")!.inputs;
  // A live site (dns.adopt): the first up overwrites the records that already exist.
  assert.deepEqual(m001, {
    zoneId: "Z04517273OFFLINE",
    name: "sjc-m001.sjc.media.example.net",
    type: "A",
    ttl: 300,
    records: ["198.51.100.11"],
    allowOverwrite: true,
  });
  assert.deepEqual(plan.outputs.provisioning, {
    user: "avfleet",
    privilege: "sudo",
    sudoers: SUDOERS_RULE,
  });
  assert.deepEqual(plan.outputs.hosts, { active: 44, draining: 2, retired: 2 });
  assert.equal((plan.outputs.hostStates as Record<string, string>)["sjc-m030"], "retired");
});

/** A metal-sjc host's command, as the site's ssh_config reaches it. */
const siteCommand = (host: string, sha: string) =>
  applyCommand(
    { config: sshConfigFile("metal-sjc"), master: masterScript("metal-sjc"), host },
    "avfleet",
    sha,
  );

/** The Plan as if its stack were named `site`: variants of one site, as one stack's next ups. */
function asSite(plan: Plan): Plan {
  const urn = (u: string) => u.replace(`urn:pulumi:${plan.name}::`, "urn:pulumi:site::");
  return {
    ...plan,
    resources: plan.resources.map((r) => ({
      ...r,
      urn: urn(r.urn),
      ...(r.parent ? { parent: urn(r.parent) } : {}),
    })),
  };
}

/** Hosts an up touches: any of its resources created (for a host the state had), changed or deleted. */
function touched(up: UpResult, existing: State): string[] {
  const host = (urn: string) => /::[^:]+-(sjc-m\d+)-(tune|drain|dns)$/.exec(urn)?.[1];
  const hostsBefore = new Set([...existing.keys()].map(host).filter(Boolean));
  return [
    ...new Set(
      [
        ...up.created.map((r) => r.urn).filter((urn) => hostsBefore.has(host(urn))),
        ...up.updated.map((u) => u.resource.urn),
        ...up.deleted,
      ]
        .map(host)
        .filter((h): h is string => h !== undefined && h.length > 0),
    ),
  ].sort();
}

test("a changed release: an up alone touches no host; the rollout's canary changes exactly its hosts, then its first batch drains and leaves DNS", async () => {
  const dir = tempDir();
  const variant = variantWriter(dir);
  const bump = (config: any) => (config["avfleet:fleet"].workload.version = "2.5.0-1");
  const [before, bumped] = (
    await evaluateStacks(loadStacks(dir, [variant("metal-v1"), variant("metal-v2", bump)]))
  ).map(asSite);
  const v1 = (before.outputs.release as any).classes;
  const v2 = bumped.outputs.release as any;
  assert.notDeepEqual(v1, v2.classes, "the new version changes both classes' payloads");
  const limits = { canaryShare: 0.05, maxUnavailable: "10%", domainsAtOnce: 1 } as const;
  const active = INVENTORY.hosts
    .filter((h: any) => h.state === "active")
    .map((h: any) => ({ name: h.name, domain: h.rack }));
  const plan = planBatches(active, limits);
  const rollout = (updated: number, draining: number) => (config: any) => {
    bump(config);
    config["avfleet:rollout"] = {
      release: v2.rendered,
      from: { classes: v1 },
      plan: planHash(plan),
      updated,
      draining,
      target: "release",
      ...limits,
    };
  };
  const [canary, draining] = (
    await evaluateStacks(
      loadStacks(dir, [
        variant("metal-canary", rollout(1, -1)),
        variant("metal-drain", rollout(1, 1)),
      ]),
    )
  ).map(asSite);

  const state0 = stateOf(before);
  const recorded = nextUp(state0, bumped);
  assert.deepEqual(touched(recorded, state0), [], "the up only records the release");
  // What changed is the site's payloads, once each, and the facts the policies read.
  assert.deepEqual(recorded.updated.map((u) => u.resource.name).sort(), [
    "metal-sjc-payload-r640-2x25g",
    "metal-sjc-payload-r6525-2x100g",
    "stack-facts",
  ]);

  const canaryUp = nextUp(recorded.state, canary);
  assert.deepEqual(touched(canaryUp, recorded.state), [...plan.canary].sort());
  assert.equal(plan.canary.length, 3);
  assert.ok(plan.canary.length <= unavailableHosts(limits.maxUnavailable, active.length));
  for (const host of plan.canary) {
    const command = canary.resources.find((r) => r.name === `metal-sjc-${host}-tune`)!;
    const sha = v2.classes[INVENTORY.hosts.find((h: any) => h.name === host).class];
    assert.equal((command.inputs as any).create, siteCommand(host, sha));
    assert.equal(command.ignoreChanges, undefined);
  }
  // Everyone else is named by the payload it ran: the state's command, unchanged.
  const other = canary.resources.find((r) => r.name === "metal-sjc-sjc-m040-tune")!;
  assert.equal((other.inputs as any).create, siteCommand("sjc-m040", v1["r6525-2x100g"]));

  assert.match(
    renderPreview([canary], 1),
    new RegExp(
      `\n {4}release: ${v2.rendered} \\(2 host classes\\); rollout: 1 of ${1 + plan.batches.length} batches on it \\(the canary is batch 0\\), none draining\n`,
    ),
  );

  const drainUp = nextUp(canaryUp.state, draining);
  const batch1 = [...plan.batches[0]].sort();
  assert.deepEqual(touched(drainUp, canaryUp.state), batch1);
  for (const host of batch1) {
    assert.ok(
      drainUp.created.some((r) => r.name === `metal-sjc-${host}-drain`),
      host,
    );
    assert.ok(
      drainUp.deleted.some((urn) => urn.endsWith(`::metal-sjc-${host}-dns`)),
      host,
    );
    assert.ok(
      drainUp.deleted.some((urn) => urn.endsWith(`::metal-sjc-${host}-tune`)),
      host,
    );
  }
  assert.ok(drainUp.deleted.every((urn) => batch1.some((h) => urn.includes(`-${h}-`))));
});
/** A host key line as ssh-keygen writes it (an ed25519 public key blob in base64). */
function newHostKey(host: string): string {
  const type = Buffer.from("ssh-ed25519");
  const key = Buffer.from(sha256(host), "hex");
  const length = (n: number) => Buffer.from([0, 0, 0, n]);
  const blob = Buffer.concat([length(type.length), type, length(key.length), key]);
  return `ssh-ed25519 ${blob.toString("base64")} root@${host}`;
}

const addHost = (inventory: any) =>
  inventory.hosts.push({
    name: "sjc-m049",
    publicIp: "198.51.100.99",
    privateIp: "10.20.4.99",
    rack: "r04",
    class: "r640-2x25g",
    state: "active",
    hostKey: newHostKey("sjc-m049"),
  });

test("without a rollout, a host that joins (new, or back from its drain) gets the release rendered now; during one, a changed inventory is refused", async () => {
  const dir = tempDir();
  const variant = variantWriter(dir);
  const bump = (config: any) => (config["avfleet:fleet"].workload.version = "2.5.0-1");
  const [before, joined] = (
    await evaluateStacks(
      loadStacks(dir, [
        variant("metal-v1"),
        variant("metal-joined", (config, inventory) => {
          bump(config);
          addHost(inventory);
          inventory.hosts.find((h: any) => h.name === "sjc-m005").state = "active";
        }),
      ]),
    )
  ).map(asSite);
  const v2 = (joined.outputs.release as any).classes["r640-2x25g"];
  const up = nextUp(stateOf(before), joined);
  assert.deepEqual(touched(up, stateOf(before)), ["sjc-m005"], "only the host back from its drain");
  for (const host of ["sjc-m005", "sjc-m049"]) {
    const command = up.created.find((r) => r.name === `metal-sjc-${host}-tune`)!;
    assert.equal((command.inputs as any).create, siteCommand(host, v2), host);
  }
  assert.ok(up.deleted.some((urn) => urn.endsWith("::metal-sjc-sjc-m005-drain")));

  const limits = { canaryShare: 0.05, maxUnavailable: "10%", domainsAtOnce: 1 } as const;
  const active = INVENTORY.hosts.filter((h: any) => h.state === "active");
  const started = planHash(
    planBatches(
      active.map((h: any) => ({ name: h.name, domain: h.rack })),
      limits,
    ),
  );
  const grown = variant("metal-grown", (config, inventory) => {
    bump(config);
    addHost(inventory);
    config["avfleet:rollout"] = {
      release: (joined.outputs.release as any).rendered,
      from: { classes: (before.outputs.release as any).classes },
      plan: started,
      updated: 1,
      draining: -1,
      target: "release",
      ...limits,
    };
  });
  await assert.rejects(evaluateStacks(loadStacks(dir, [grown])), (err: unknown) => {
    assert.ok(err instanceof EvaluationError);
    assert.match(
      err.output,
      new RegExp(
        `^stacks/Pulumi\\.metal-grown\\.yaml: config\\.avfleet:rollout\\.plan: is ${started}, but the inventory's active hosts and the rollout's limits make plan [0-9a-f]{12}: the site changed during the rollout of r-[0-9a-f]{12}, expected the plan the rollout started with: finish or roll back the rollout before adding, draining or retiring hosts$`,
        "m",
      ),
    );
    return true;
  });
});

test("Cloud DNS host records of a live site are imported by their documented id; without adopt, created", async () => {
  const dir = tempDir();
  const ams = YAML.parse(readFileSync(join(ROOT, "stacks/Pulumi.metal-ams.yaml"), "utf8"));
  writeFileSync(join(dir, "Pulumi.metal-ams.yaml"), YAML.stringify(ams));
  const fresh = structuredClone(ams);
  fresh.config["avfleet:fleet"].dns.adopt = false;
  writeFileSync(join(dir, "Pulumi.metal-new.yaml"), YAML.stringify(fresh));
  const [adopted, created] = await evaluateStacks(loadStacks(dir, ["metal-ams", "metal-new"]));
  const records = (plan: Plan) =>
    plan.resources.filter((r) => r.type === "gcp:dns/recordSet:RecordSet");
  assert.equal(records(adopted).length, 22);
  const m001 = records(adopted).find((r) => r.name === "metal-ams-ams-m001-dns")!;
  assert.equal(
    m001.importId,
    "projects/media-prod-euw4/managedZones/ams-media/rrsets/ams-m001.ams.media.example.net./A",
  );
  assert.equal(m001.inputs.name, "ams-m001.ams.media.example.net.");
  for (const r of records(adopted)) {
    assert.equal(
      r.importId,
      `projects/media-prod-euw4/managedZones/ams-media/rrsets/${r.inputs.name}/A`,
    );
  }
  assert.ok(records(created).every((r) => r.importId === undefined));
  // The preview says what the first up adopts and what each host must grant.
  const preview = renderPreview([adopted], 1);
  assert.match(preview, /\n {2}├─ metal-ams-ams-m001-dns {2}gcp:dns:RecordSet {2}\(import\)\n/);
  assert.match(preview, /\n {2}├─ metal-ams-ams-m001-tune {2}command:local:Command\n/);
  // 22 active hosts' records and commands, a draining host's drain request; the fleet, its
  // one class's payload and the drain request's, the stack's facts.
  assert.match(
    preview,
    / {2}= 49 resources to create \(45 custom, 4 components\), 22 of them adopted by import\n/,
  );
  assert.match(
    preview,
    new RegExp(
      `\n {4}provisioning: as avfleet \\(a POSIX login shell and a writable home\\) through sudo -n; every host needs in /etc/sudoers\\.d/avfleet: ${SUDOERS_RULE.replace(/[()\\.]/g, "\\$&")}\n`,
    ),
  );
  assert.doesNotMatch(renderPreview([created], 1), /import/);
  assert.match(
    preview,
    /\n {4}release: r-[0-9a-f]{12} \(1 host class\); no rollout: an up records it and changes no existing host\n/,
  );
});

test("the site's ssh_config pins each host's key under its name and jumps through the bastion, whose connection every host shares; the program writes it, and the stack's key readable by the operator alone, where its commands run", async () => {
  const spec = loadStackFile(join(ROOT, "stacks/Pulumi.metal-sjc.yaml")).fleet as any;
  const provisioned = INVENTORY.hosts.filter((h: any) => h.state !== "retired");
  const files = sshFiles("metal-sjc", spec.ssh, provisioned);
  const lines: string[] = files.config.split("\n");
  const m001 = lines.indexOf("Host sjc-m001");
  assert.deepEqual(lines.slice(m001, m001 + 3), [
    "Host sjc-m001",
    "  HostName 10.20.1.11",
    "  HostKeyAlias sjc-m001",
  ]);
  assert.equal(lines.filter((l) => l.startsWith("Host sjc-")).length, 46, "draining hosts too");
  assert.ok(!files.config.includes("sjc-m030"), "a retired host is not reached");
  const bastion = lines.indexOf("Host avfleet-bastion");
  const all = lines.indexOf("Host *");
  assert.ok(m001 < bastion && bastion < all, "the first value wins: Host * last");
  assert.deepEqual(lines.slice(bastion + 1, all), [
    "  HostName bastion.sjc.ops.example.net",
    "  Port 22",
    "  User avfleet",
    "  HostKeyAlias avfleet-bastion",
    "  ProxyJump none",
    "  ControlMaster auto",
    "  ControlPath .avfleet/ssh/metal-sjc/%i-%C",
    "  ControlPersist 120",
  ]);
  assert.deepEqual(lines.slice(all + 1, all + 5), [
    "  User avfleet",
    "  Port 22",
    "  ProxyJump avfleet-bastion",
    "  UserKnownHostsFile .avfleet/ssh/metal-sjc/known_hosts",
  ]);
  assert.ok(lines.includes("  StrictHostKeyChecking yes") && lines.includes("  BatchMode yes"));
  assert.ok(lines.includes("  IdentityFile .avfleet/ssh/metal-sjc/id"));
  const [key, blob] = INVENTORY.hosts[0].hostKey.split(" ");
  assert.equal(files.knownHosts.split("\n")[0], `sjc-m001 ${key} ${blob}`);
  assert.equal(
    files.knownHosts.split("\n").at(-2),
    `avfleet-bastion ${spec.ssh.bastion.hostKey.split(" ").slice(0, 2).join(" ")}`,
  );
  // The operator's ssh-agent: no key file named.
  const agent = sshFiles("metal-sjc", { ...spec.ssh, agent: true }, provisioned);
  assert.doesNotMatch(agent.config, /IdentityFile|IdentitiesOnly/);

  // The program writes them where Pulumi runs it and its commands: the project root. A pool of
  // this test's own: other tests evaluate metal-sjc's variants meanwhile.
  const pool = `metal-ssh-${process.pid}`;
  const dir = tempDir();
  const variant = variantWriter(dir);
  const [plan] = await evaluateStacks(
    loadStacks(dir, [variant("metal-ssh", (config) => (config["avfleet:fleet"].pool = pool))]),
  );
  try {
    const commands = plan.resources.filter((r) => r.type === "command:local:Command");
    assert.equal(commands.length, 46);
    assert.ok(
      commands.every((r) => (r.inputs as any).create.includes(` -F ${sshConfigFile(pool)} `)),
    );
    const own = sshFiles(pool, spec.ssh, provisioned);
    assert.equal(readFileSync(join(ROOT, sshConfigFile(pool)), "utf8"), own.config);
    assert.equal(readFileSync(join(ROOT, knownHostsFile(pool)), "utf8"), own.knownHosts);
    // Behind a bastion every command opens (or waits for) the one master connection first.
    assert.equal(readFileSync(join(ROOT, masterScript(pool)), "utf8"), own.master);
    assert.ok(
      commands.every((r) => (r.inputs as any).create.includes(`sh ${masterScript(pool)}&&ssh `)),
    );
    const id = statSync(join(ROOT, identityFile(pool)));
    assert.equal(id.mode & 0o777, 0o600);
  } finally {
    rmSync(join(ROOT, ".avfleet/ssh", pool), { recursive: true, force: true });
  }
});

test("every host key in the example inventories and stacks is a key OpenSSH reads", (t) => {
  if (!prerequisite(t, missingCommands("ssh-keygen"))) return;
  const ams = YAML.parse(readFileSync(join(ROOT, "inventory/metal-ams.yaml"), "utf8"));
  const keys = [
    ...[...INVENTORY.hosts, ...ams.hosts]
      .filter((h) => h.state !== "retired")
      .map((h) => h.hostKey),
    STACK.config["avfleet:fleet"].ssh.bastion.hostKey,
  ];
  assert.equal(keys.length, 46 + 23 + 1);
  const dir = tempDir();
  keys.forEach((key, i) => writeFileSync(join(dir, `${i}.pub`), `${key}\n`));
  const fingerprints = keys.map((_, i) => {
    const run = spawnSync("ssh-keygen", ["-l", "-f", join(dir, `${i}.pub`)], { encoding: "utf8" });
    assert.equal(run.status, 0, `${keys[i]}: ${run.stderr}`);
    assert.match(run.stdout, /^256 SHA256:\S+ root@\S+ \(ED25519\)$/m);
    return run.stdout.split(" ")[1];
  });
  assert.equal(new Set(fingerprints).size, keys.length, "no two hosts share a key");
});

test("a site declared in several chunks: every host tuned and in DNS once, in inventory order", async () => {
  const dir = tempDir();
  mkdirSync(join(dir, "stacks"));
  mkdirSync(join(dir, "inventory"));
  // More hosts than one chunk of the fleet's declarations (RESOURCES_PER_CHUNK) holds, twice over.
  writeSite(dir, "metal-chunked", 600);
  const [plan] = await evaluateStacks(loadStacks(join(dir, "stacks"), ["metal-chunked"]));
  const inventory = loadInventory(join(dir, "inventory/metal-chunked.yaml"));
  const named = (type: string, suffix: RegExp) =>
    plan.resources
      .filter((r) => r.type === type && suffix.test(r.name))
      .map((r) => r.name.replace(/^metal-chunked-/, "").replace(suffix, ""));
  const active = inventory.hosts.filter((h) => h.state === "active").map((h) => h.name);
  const draining = inventory.hosts.filter((h) => h.state === "draining").map((h) => h.name);
  assert.ok(active.length > 500 && draining.length > 0);
  assert.deepEqual(named("command:local:Command", /-tune$/), active);
  assert.deepEqual(named("command:local:Command", /-drain$/), draining);
  assert.deepEqual(named("aws:route53/record:Record", /-dns$/), active);
  assert.equal((plan.outputs.hosts as { active: number }).active, active.length);
  rmSync(dir, { recursive: true, force: true });
});
