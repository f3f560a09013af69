import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { listStacks, loadStackFile } from "../../modules/stacks/stack";
import { avfleet, ROOT } from "../support/cli";
import { problemsLoading } from "../support/problems";

const GOOD = YAML.parse(readFileSync(join(ROOT, "stacks/Pulumi.gcp-us-west1.yaml"), "utf8"));

function withFleet(change: (fleet: any, config: any) => void): string {
  const doc = structuredClone(GOOD);
  change(doc.config["avfleet:fleet"], doc.config);
  return YAML.stringify(doc);
}

const problemsOf = (text: string) => problemsLoading(loadStackFile, "Pulumi.bad.yaml", text);

test("every example stack loads, with schema defaults filled in", () => {
  for (const name of listStacks(join(ROOT, "stacks"))) {
    const stack = loadStackFile(join(ROOT, "stacks", `Pulumi.${name}.yaml`));
    assert.equal(stack.name, name);
  }
  const usw = loadStackFile(join(ROOT, "stacks/Pulumi.gcp-us-west1.yaml"));
  assert.equal(
    usw.fleet!.kind === "gcp" && usw.fleet!.image,
    "projects/debian-cloud/global/images/family/debian-12",
  );
  assert.equal(usw.fleet!.kind === "gcp" && usw.fleet!.bootDiskGb, 20);
});

const badCases: [string, string, string[]][] = [
  [
    "malformed YAML",
    "config:\n  avfleet:fleet: {kind: gcp\n",
    [
      "3:1: malformed YAML (Flow map in block collection must be sufficiently indented and end with a }), expected a Pulumi stack file with a config: mapping",
    ],
  ],
  ["empty file", "", ["(document): is empty, expected a Pulumi stack file with a config: mapping"]],
  [
    "only a comment",
    "# nothing here\n",
    ["(document): is empty, expected a Pulumi stack file with a config: mapping"],
  ],
  [
    "wrong type",
    withFleet((f) => (f.maxHosts = "ninety")),
    [
      'config.avfleet:fleet.maxHosts: is string "ninety", expected a host count in 1–5000 (an integer)',
    ],
  ],
  [
    "missing required key",
    withFleet((f) => delete f.pool),
    [
      "config.avfleet:fleet.pool: is missing, expected a pool name: lowercase RFC 1123 label of at most 40 characters",
    ],
  ],
  [
    "missing provider key",
    withFleet((_, c) => delete c["gcp:region"]),
    ["config.gcp:region: is missing, expected a GCP region like us-west1"],
  ],
  [
    "unknown kind",
    withFleet((f) => (f.kind = "azure")),
    ['config.avfleet:fleet.kind: is "azure", expected one of gcp | aws | metal'],
  ],
  [
    "unknown key",
    withFleet((f) => (f.maxHost = 9)),
    [
      "config.avfleet:fleet.maxHost: is not a known key, expected one of kind, mediaRegion, pool, endpoint, minHosts, maxHosts, migration, ports, adminCidrs, tuning, demand, drainSeconds, workload, agent, labels, alerting, endpointZone, machineType, zones, image, network, subnetwork, bootDiskGb, autoscaling",
    ],
  ],
  [
    "an apt source's key that is not an armored public key",
    withFleet((f) => (f.workload.aptSource.key = "ssh-ed25519 AAAA")),
    [
      'config.avfleet:fleet.workload.aptSource.key: is "ssh-ed25519 AAAA", expected the repository\'s signing key, ASCII-armored as `gpg --armor --export <id>` prints it',
    ],
  ],
  [
    "an apt source beside an image",
    withFleet((f) => {
      delete f.workload.package;
      f.workload.image = "us-west1-docker.pkg.dev/media-prod-usw1/sfu/avfleet-sfu";
      f.workload.version = "2.4.1";
    }),
    [
      'config.avfleet:fleet.workload.aptSource: is {"uri":"https://apt.media.example.net/debian","suite":"bo..., expected no aptSource beside image (podman pulls the image)',
    ],
  ],
  [
    "min > max",
    withFleet((f) => (f.minHosts = 100)),
    ["config.avfleet:fleet.minHosts: is 100, more than maxHosts 90, expected minHosts ≤ maxHosts"],
  ],
  [
    "port out of range",
    withFleet((f) => (f.ports.mediaUdp.from = 80)),
    ["config.avfleet:fleet.ports.mediaUdp.from: is 80, expected a port in 1024–65535, ≥ 1024"],
  ],
  [
    "port above 65535",
    withFleet((f) => (f.ports.mediaUdp.to = 70000)),
    ["config.avfleet:fleet.ports.mediaUdp.to: is 70000, expected a port in 1024–65535, ≤ 65535"],
  ],
  [
    "empty port range",
    withFleet((f) => (f.ports.mediaUdp = { from: 20000, to: 10000 })),
    ["config.avfleet:fleet.ports.mediaUdp: is 20000–10000, an empty range, expected from ≤ to"],
  ],
  [
    "signaling port inside the media range",
    withFleet((f) => (f.ports.signalingTcp = [443, 30000])),
    [
      "config.avfleet:fleet.ports.signalingTcp[1]: overlaps the media UDP range, expected ports that do not overlap",
    ],
  ],
  [
    "health port equal to a signaling port",
    withFleet((f) => (f.ports.health.port = 8443) && (f.ports.signalingTcp = [8443])),
    [
      "config.avfleet:fleet.ports.health.port: overlaps signaling port 8443, expected ports that do not overlap",
    ],
  ],
  [
    "the SFU's admin port on the health port or a signaling port (both TCP on the host)",
    withFleet((f) => {
      f.workload.adminPort = 8080;
      f.ports.health.port = 8080;
      f.ports.signalingTcp = [443, 8080];
    }),
    [
      "config.avfleet:fleet.ports.health.port: overlaps signaling port 8080, expected ports that do not overlap",
      "config.avfleet:fleet.workload.adminPort: is 8080, the same TCP port as the health port (ports.health.port 8080): the SFU and the agent would collide at boot, expected a TCP port no other listener on the host uses (not the health or a signaling port)",
      "config.avfleet:fleet.workload.adminPort: is 8080, the same TCP port as signaling TCP port ports.signalingTcp[1] 8080: the SFU and the agent would collide at boot, expected a TCP port no other listener on the host uses (not the health or a signaling port)",
    ],
  ],
  [
    "the SFU's admin port equal to the health port alone",
    withFleet((f) => (f.workload.adminPort = f.ports.health.port)),
    [
      "config.avfleet:fleet.workload.adminPort: is 8080, the same TCP port as the health port (ports.health.port 8080): the SFU and the agent would collide at boot, expected a TCP port no other listener on the host uses (not the health or a signaling port)",
    ],
  ],
  [
    "invalid CIDR",
    withFleet((f) => (f.adminCidrs = ["10.0.0.0/8", "300.1.2.0/24"])),
    ['config.avfleet:fleet.adminCidrs[1]: is "300.1.2.0/24", expected a CIDR like 198.51.100.0/24'],
  ],
  [
    "zone outside region",
    withFleet((f) => (f.zones = ["us-west1-a", "us-east1-b"])),
    [
      'config.avfleet:fleet.zones[1]: is "us-east1-b", outside region us-west1, expected a zone of us-west1',
    ],
  ],
  [
    "several problems at once",
    withFleet((f) => {
      f.minHosts = -1;
      f.labels = { team: "Media Infra" };
    }),
    [
      "config.avfleet:fleet.labels.cost-center: is missing, expected a label value: lowercase letters, digits, - and _, at most 63 characters",
      'config.avfleet:fleet.labels.team: is "Media Infra", expected a label value: lowercase letters, digits, - and _, at most 63 characters',
      "config.avfleet:fleet.minHosts: is -1, expected a host count in 0–5000, ≥ 0",
    ],
  ],
  [
    "a receiver whose secret is not set",
    withFleet((_, c) => delete c["avfleet:notifyPageSecret"]),
    [
      "config.avfleet:notifyPageSecret: is missing, but avfleet:fleet.alerting.notify.page reads its key from it, expected a Pulumi secret (pulumi config set --secret avfleet:notifyPageSecret < key)",
    ],
  ],
  [
    "a receiver secret in plain text, and one no receiver reads",
    withFleet((_, c) => {
      c["avfleet:notifyPageSecret"] = "https://events.pagerduty.com/integration/abc/enqueue";
      c["avfleet:notifyTicketSecret"] = { secure: "v1:AAAA" };
    }),
    [
      'config.avfleet:notifyPageSecret: is string "https://events.pagerduty.com/integration/abc/enqueue", expected a Pulumi secret (pulumi config set --secret avfleet:notifyPageSecret < key), never plain text',
      "config.avfleet:notifyTicketSecret: is set, but no receiver reads it (avfleet:fleet.alerting.notify.ticket takes no secret), expected no avfleet:notifyTicketSecret (pulumi config rm avfleet:notifyTicketSecret), or a receiver that reads it",
    ],
  ],
  [
    "a receiver of another platform, and one that names two kinds",
    withFleet((f) => {
      f.alerting.notify.page = { topicArn: "arn:aws:sns:us-west-2:480913274615:pages" };
      f.alerting.notify.ticket = {
        channel: "projects/p-roject/notificationChannels/1",
        email: ["a@b.io"],
      };
    }),
    [
      "config.avfleet:fleet.alerting.notify.page.topicArn: is not a known key, expected one of channel, email, pagerduty, webhook",
      'config.avfleet:fleet.alerting.notify.ticket.email: is ["a@b.io"], expected no email beside channel',
    ],
  ],
];

test("a TCP admin port inside the media UDP range is no collision: another port space", () => {
  const file = join(mkdtempSync(join(tmpdir(), "avfleet-stacks-")), "Pulumi.ok.yaml");
  writeFileSync(
    file,
    withFleet((f) => (f.workload.adminPort = f.ports.mediaUdp.from)),
  );
  assert.equal(loadStackFile(file).fleet!.workload.adminPort, 10000);
});

test("a secret whose 'ciphertext' is base64 text is a placeholder, refused unless the stack is an example", () => {
  const fake = withFleet((_, c) => delete c["avfleet:example"]);
  assert.deepEqual(problemsOf(fake), [
    'config.avfleet:notifyPageSecret.secure: decodes to the text "example-ciphertext-set-your-own-key", not ciphertext: a placeholder, expected a value written by pulumi config set --secret avfleet:notifyPageSecret (or avfleet:example: true on a stack that is never applied)',
  ]);
  // What the passphrase provider writes: a 12-byte nonce and AES-GCM output, random bytes.
  const nonce = Buffer.from("9c1f0e7a44d2b3a1c8e0ff01", "hex").toString("base64");
  const sealed = Buffer.from(
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "hex",
  );
  const file = join(mkdtempSync(join(tmpdir(), "avfleet-stacks-")), "Pulumi.real.yaml");
  writeFileSync(
    file,
    withFleet((_, c) => {
      delete c["avfleet:example"];
      c["avfleet:notifyPageSecret"] = { secure: `v1:${nonce}:${sealed.toString("base64")}` };
    }),
  );
  assert.equal(loadStackFile(file).name, "real");
});

for (const [name, text, expected] of badCases) {
  test(`bad stack file: ${name}`, () => {
    assert.deepEqual(problemsOf(text), expected);
  });
}

test("a bad stack file stops preview before any stack is evaluated: exit 2, errors on stderr", () => {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-stacks-"));
  writeFileSync(join(dir, "Pulumi.good.yaml"), YAML.stringify(GOOD));
  writeFileSync(
    join(dir, "Pulumi.bad.yaml"),
    withFleet((f) => (f.minHosts = 100)),
  );
  const result = avfleet(["preview", "--stacks-dir", dir]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  assert.equal(
    result.stderr,
    `${join(dir, "Pulumi.bad.yaml")}: config.avfleet:fleet.minHosts: is 100, more than maxHosts 90, expected minHosts ≤ maxHosts\n`,
  );
});

test("an unknown stack name is a usage error (exit 2) naming the stacks there are", () => {
  const result = avfleet(["preview", "gcp-mars1"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /usage: unknown stack gcp-mars1; stacks in stacks: .*gcp-us-west1/);
});

test("AWS subnets must sit in zones of the stack's region, one per zone", () => {
  const doc = YAML.parse(readFileSync(join(ROOT, "stacks/Pulumi.aws-us-east-1.yaml"), "utf8"));
  doc.config["avfleet:fleet"].subnets[1].zone = "us-west-2b";
  doc.config["avfleet:fleet"].subnets[2].zone = "us-east-1a";
  assert.deepEqual(problemsOf(YAML.stringify(doc)), [
    'config.avfleet:fleet.subnets[1].zone: is "us-west-2b", outside region us-east-1, expected a zone of us-east-1',
    'config.avfleet:fleet.subnets[2].zone: is "us-east-1a" again, expected each zone once',
  ]);
});

test("an AWS receiver's existing topic must be in the stack's region", () => {
  const doc = YAML.parse(readFileSync(join(ROOT, "stacks/Pulumi.aws-eu-central-1.yaml"), "utf8"));
  doc.config["avfleet:fleet"].alerting.notify.page.topicArn =
    "arn:aws:sns:us-east-1:480913274615:media-pages";
  assert.deepEqual(problemsOf(YAML.stringify(doc)), [
    "config.avfleet:fleet.alerting.notify.page.topicArn: is a topic in us-east-1, not in aws:region eu-central-1, expected an SNS topic in the stack's region (CloudWatch alarms notify only topics of their region)",
  ]);
});
