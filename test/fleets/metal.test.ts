import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { loadInventory } from "../../modules/config/inventory";
import { loadStackFile, loadStacks } from "../../modules/config/stack";
import { InputError } from "../../modules/config/validate";
import { evaluateStacks } from "../../modules/plan/evaluate";
import type { Plan } from "../../modules/plan/plan";
import { renderPreview } from "../../modules/plan/render-preview";
import { writeSite } from "../../bench/estate";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";
import { problemsLoading } from "../support/problems";

/**
 * The one sudoers rule of the example sites: install and run the tuning (with its tools) and
 * the host bootstrap, and drop a drain request; nothing else.
 */
const SUDOERS_RULE =
  "avfleet ALL=(root) NOPASSWD: /usr/bin/install -D -m 0755 /dev/stdin /usr/local/sbin/avfleet-tune, /usr/bin/install -D -m 0755 /dev/stdin /usr/local/sbin/avfleet-bootstrap, /usr/bin/install -D -m 0644 /dev/stdin /var/lib/avfleet/drain-requested, /usr/local/sbin/avfleet-tune provision, /usr/local/sbin/avfleet-bootstrap";

const HOST_KEY =
  "an SSH host public key line like 'ssh-ed25519 AAAA... root@host' (ed25519 or ecdsa; the host's /etc/ssh/ssh_host_ed25519_key.pub)";
const INVENTORY = YAML.parse(readFileSync(join(ROOT, "inventory/metal-sjc.yaml"), "utf8"));
const STACK = YAML.parse(readFileSync(join(ROOT, "stacks/Pulumi.metal-sjc.yaml"), "utf8"));

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "avfleet-metal-"));
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
      `hosts[4].hostKey: is missing on draining host sjc-m005, expected ${HOST_KEY}; only retired hosts may omit it`,
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
  doc.config["avfleet:fleet"].inventory = join(ROOT, "inventory/metal-sjc.yaml");
  change(doc.config);
  return problemsLoading(loadStackFile, "Pulumi.metal-x.yaml", YAML.stringify(doc));
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
  doc.config["avfleet:fleet"].inventory = join(dir, "inv.yaml");
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

/**
 * metal-sjc as-is; with the r6525 class's cores changed (its payload changes); and with its
 * NIC queues lowered from 32 to 24, which renders the same payload because channels are
 * capped by the CPUs reserved for interrupts (8 of 64). Evaluated side by side.
 */
async function evaluateVariants(): Promise<Plan[]> {
  const dir = tempDir();
  const variant = (name: string, change: (inventory: any) => void) => {
    const inventory = structuredClone(INVENTORY);
    change(inventory);
    writeFileSync(join(dir, `${name}.yaml`), YAML.stringify(inventory));
    const doc = structuredClone(STACK);
    doc.config["avfleet:fleet"].inventory = join(dir, `${name}.yaml`);
    writeFileSync(join(dir, `Pulumi.${name}.yaml`), YAML.stringify(doc));
    return name;
  };
  return evaluateStacks(
    loadStacks(dir, [
      variant("metal-before", () => {}),
      variant("metal-cores", (inv) => (inv.hostClasses["r6525-2x100g"].cores = 48)),
      variant("metal-queues", (inv) => (inv.hostClasses["r6525-2x100g"].nicQueues = 24)),
    ]),
  );
}

test("per host: tuned over SSH with a secret key, re-run exactly when its payload changes; retired hosts get nothing", async () => {
  const [before, cores, queues] = await evaluateVariants();
  const commands = (plan: Plan) =>
    new Map(
      plan.resources
        .filter((r) => r.type === "command:remote:Command")
        .map((r) => [r.name.replace(/^metal-sjc-/, "").replace(/-tune$/, ""), r.inputs as any]),
    );
  const b = commands(before);
  const a = commands(cores);
  const q = commands(queues);
  // 48 hosts, 2 retired (sjc-m030, sjc-m031): 46 provisioned, draining ones included.
  assert.equal(b.size, 46);
  assert.ok(!b.has("sjc-m030") && !b.has("sjc-m031"));
  assert.ok(b.has("sjc-m005"), "a draining host gets a payload");
  // A draining host gets only its agent's drain request: nothing else changes under its calls.
  assert.match(b.get("sjc-m005").create, /\/var\/lib\/avfleet\/drain-requested/);
  assert.doesNotMatch(b.get("sjc-m005").create, /avfleet-tune/);
  assert.equal(
    b.get("sjc-m001").connection,
    "[secret]",
    "the connection carries the private key: secret",
  );
  const classOf = new Map(INVENTORY.hosts.map((h: any) => [h.name, h.class]));
  const stateOf = new Map(INVENTORY.hosts.map((h: any) => [h.name, h.state]));
  let changed = 0;
  for (const [host, command] of b) {
    const sameTrigger = command.triggers[0] === a.get(host).triggers[0];
    const retuned = classOf.get(host) === "r6525-2x100g" && stateOf.get(host) === "active";
    assert.equal(sameTrigger, !retuned, host);
    if (!sameTrigger) changed++;
    assert.equal(command.triggers[0], q.get(host).triggers[0], `${host}: same payload, no re-run`);
    // The pinned key is in the triggers: a reinstalled host gets its payload again.
    assert.equal(command.triggers[1], INVENTORY.hosts.find((h: any) => h.name === host).hostKey);
  }
  const activeOfClass = INVENTORY.hosts.filter(
    (h: any) => h.class === "r6525-2x100g" && h.state === "active",
  ).length;
  assert.equal(changed, activeOfClass, "exactly the active hosts of the changed class");
  assert.match(b.get("sjc-m001").triggers[0], /^[0-9a-f]{64}$/);

  const records = before.resources.filter((r) => r.type === "aws:route53/record:Record");
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
  assert.deepEqual(before.outputs.provisioning, {
    user: "avfleet",
    privilege: "sudo",
    sudoers: SUDOERS_RULE,
  });
  assert.deepEqual(before.outputs.hosts, { active: 44, draining: 2, retired: 2 });
  assert.equal((before.outputs.hostStates as Record<string, string>)["sjc-m030"], "retired");
});

test("Cloud DNS host records of a live site are imported by their documented id; without adopt, created", async () => {
  const dir = tempDir();
  const ams = YAML.parse(readFileSync(join(ROOT, "stacks/Pulumi.metal-ams.yaml"), "utf8"));
  ams.config["avfleet:fleet"].inventory = join(ROOT, "inventory/metal-ams.yaml");
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
  assert.match(preview, /\n {2}├─ metal-ams-ams-m001-tune {2}command:remote:Command\n/);
  assert.match(
    preview,
    / {2}= 47 resources to create \(45 custom, 2 components\), 22 of them adopted by import\n/,
  );
  assert.match(
    preview,
    new RegExp(
      `\n {4}provisioning: as avfleet through sudo -n; every host needs in /etc/sudoers\\.d/avfleet: ${SUDOERS_RULE.replace(/[()\\.]/g, "\\$&")}\n`,
    ),
  );
  assert.doesNotMatch(renderPreview([created], 1), /import/);
});

test("the SSH connection pins the inventory's host key and goes through the site's bastion with the same key", async () => {
  // The connection is secret as a whole in the Plan: read it where the mock receives it.
  const pulumi = await import("@pulumi/pulumi");
  const connections = new Map<string, any>();
  await pulumi.runtime.setMocks(
    {
      newResource: ({ type, name, inputs }) => {
        // The provider's SDK marks the whole connection secret: the mock sees it wrapped.
        if (type === "command:remote:Command") connections.set(name, inputs.connection.value);
        return { id: `${name}-id`, state: inputs };
      },
      call: () => ({}),
    },
    "avfleet",
    "metal-sjc",
    false,
  );
  const { MetalFleet } = await import("../../modules/fleets/metal");
  const { validateStackDocument } = await import("../../modules/config/stack");
  const { document, inventory } = validateStackDocument(
    join(ROOT, "stacks/Pulumi.metal-sjc.yaml"),
    structuredClone(STACK),
  );
  const spec = document.config["avfleet:fleet"] as any;
  new MetalFleet("metal-sjc", {
    spec,
    inventory: inventory!,
    sshPrivateKey: pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----"),
    payloadFor: () => ({ create: "true", hash: "h" }),
  });
  // Registrations are asynchronous: wait for every outstanding one.
  await pulumi.runtime.disconnect();
  assert.equal(connections.size, 46);
  assert.deepEqual(connections.get("metal-sjc-sjc-m001-tune"), {
    host: "10.20.1.11",
    port: 22,
    user: "avfleet",
    privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----",
    hostKey: INVENTORY.hosts[0].hostKey,
    proxy: {
      host: "bastion.sjc.ops.example.net",
      port: 22,
      user: "avfleet",
      hostKey: STACK.config["avfleet:fleet"].ssh.bastion.hostKey,
      privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----",
      dialErrorLimit: 10,
      perDialTimeout: 15,
    },
    dialErrorLimit: 10,
    perDialTimeout: 15,
  });
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
      .filter((r) => r.type === type)
      .map((r) => r.name.replace(/^metal-chunked-/, "").replace(suffix, ""));
  const provisioned = inventory.hosts.filter((h) => h.state !== "retired").map((h) => h.name);
  const active = inventory.hosts.filter((h) => h.state === "active").map((h) => h.name);
  assert.ok(provisioned.length > 500 && active.length < provisioned.length);
  assert.deepEqual(named("command:remote:Command", /-tune$/), provisioned);
  assert.deepEqual(named("aws:route53/record:Record", /-dns$/), active);
  assert.equal((plan.outputs.hosts as { active: number }).active, active.length);
  rmSync(dir, { recursive: true, force: true });
});
