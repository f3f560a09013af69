import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { loadInventory } from "../../modules/config/inventory";
import { loadStackFile, loadStacks } from "../../modules/config/stack";
import { InputError } from "../../modules/config/validate";
import { evaluateStacks } from "../../modules/plan/evaluate";
import type { Plan } from "../../modules/plan/plan";
import { ROOT } from "../support/cli";
import { problemsLoading } from "../support/problems";

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
    ['hosts[0].publicIp: is "198.51.100.256", expected a public IPv4 address'],
  ],
  [
    "IPv6 where IPv4 is expected",
    (inv) => (inv.hosts[0].privateIp = "fd00::1"),
    ['hosts[0].privateIp: is "fd00::1", expected a private IPv4 address'],
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
      "hosts: rack r02 has all 12 hosts draining, expected at least one active or retired host per rack",
    ],
  ],
  [
    "missing key",
    (inv) => delete inv.hosts[5].rack,
    ["hosts[5].rack: is missing, expected a rack name like r01"],
  ],
];

for (const [name, change, expected] of corpus) {
  test(`bad inventory: ${name}`, () => assert.deepEqual(inventoryProblems(change), expected));
}

function stackProblems(change: (config: any) => void): string[] {
  const doc = structuredClone(STACK);
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
  }
  const activeOfClass = INVENTORY.hosts.filter(
    (h: any) => h.class === "r6525-2x100g" && h.state === "active",
  ).length;
  assert.equal(changed, activeOfClass, "exactly the active hosts of the changed class");
  assert.match(b.get("sjc-m001").triggers[0], /^[0-9a-f]{64}$/);

  const records = before.resources.filter((r) => r.type === "aws:route53/record:Record");
  assert.equal(records.length, 44, "DNS only for active hosts");
  const m001 = records.find((r) => r.name === "metal-sjc-sjc-m001-dns")!.inputs;
  assert.deepEqual(m001, {
    zoneId: "Z04517273OFFLINE",
    name: "sjc-m001.sjc.media.example.net",
    type: "A",
    ttl: 300,
    records: ["198.51.100.11"],
  });
  assert.deepEqual(before.outputs.hosts, { active: 44, draining: 2, retired: 2 });
  assert.equal((before.outputs.hostStates as Record<string, string>)["sjc-m030"], "retired");
});
