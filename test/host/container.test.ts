/**
 * A pool whose media server is a container image: what the host gets (unit, bootstrap, agent
 * config, cloud-config), what the pool declares (pull grants), what preview shows and what the
 * policy pack says. The pools are the example GCP and AWS stacks with an image workload.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { loadStackFile, loadStacks } from "../../modules/stacks/stack";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { hostTuning } from "../../modules/host-payloads/host-tuning";
import { agentConfig } from "../../modules/host/agent";
import {
  awsBoot,
  AWS_USER_DATA_LIMIT,
  bootstrapScript,
  metalPayload,
} from "../../modules/host/bootstrap";
import { workloadUnit } from "../../modules/host/units";
import { evaluateStacks } from "../../modules/evaluation/evaluate";
import type { Plan } from "../../modules/plan/plan";
import { evaluatePolicies } from "../../modules/policy-runner/runner";
import { POLICIES } from "../../modules/policy-runner";
import { agentPackagePaths } from "../support/agent";
import { avfleet, ROOT } from "../support/cli";
import { resource } from "../support/plans";
import { missingCommands, prerequisite } from "../support/prerequisites";
import { assertCloudConfigsPass, bootstrapFiles, TEST_BUCKET } from "../support/user-data";

const DIGEST = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const AR_IMAGE = "us-west1-docker.pkg.dev/media-prod-usw1/sfu/avfleet-sfu";
const ECR_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/media/avfleet-sfu";
const hardware = { cores: 32, nicDriver: "ena", rxQueues: 16, txQueues: 16, streamsPerHost: 4800 };

/** An example stack's document with its workload made a container image. */
function containerStack(example: string, image: string, digest: string | undefined) {
  const doc = YAML.parse(readFileSync(join(ROOT, `stacks/Pulumi.${example}.yaml`), "utf8"));
  const fleet = doc.config["avfleet:fleet"];
  fleet.workload = { image, version: "2.4.1", adminPort: fleet.workload.adminPort };
  if (digest) fleet.workload.digest = digest;
  return doc;
}

const dir = mkdtempSync(join(tmpdir(), "avfleet-container-stacks-"));
const STACKS = {
  "gcp-container": ["gcp-us-west1", AR_IMAGE],
  "aws-container": ["aws-us-east-1", ECR_IMAGE],
};
for (const [name, [example, image]] of Object.entries(STACKS))
  writeFileSync(
    join(dir, `Pulumi.${name}.yaml`),
    YAML.stringify(containerStack(example, image, DIGEST)),
  );
const [gcpStack, awsStack] = loadStacks(dir, Object.keys(STACKS));
const gcp = gcpStack.fleet!;
const aws = awsStack.fleet!;

const plans = new Map<string, Plan>();
before(async () => {
  for (const plan of await evaluateStacks([gcpStack, awsStack])) plans.set(plan.name, plan);
});

test("the container unit: pull before start, podman on the host network, drain-long stop timeouts", () => {
  assert.equal(
    workloadUnit(gcp),
    [
      "# rendered by avfleet (modules/host); change the fleet spec, not this file.",
      "[Unit]",
      `Description=media server ${AR_IMAGE}:2.4.1@${DIGEST} (container) (avfleet pool gcp-usw1)`,
      // ssh, the guest agent and the Ops Agent stop after the drain (#28)
      "After=network-online.target avfleet-tune.service ssh.service systemd-user-sessions.service google-guest-agent.service google-guest-agent-manager.service google-cloud-ops-agent.service google-cloud-ops-agent-fluent-bit.service google-cloud-ops-agent-opentelemetry-collector.service",
      // Wants, not Requires: restarting the tuning unit must not restart the server (#28)
      "Wants=network-online.target avfleet-tune.service",
      "",
      "[Service]",
      "Type=simple",
      "Environment=AVFLEET_ADMIN_PORT=9090",
      "ExecStartPre=+/usr/local/sbin/avfleet-tune verify",
      "ExecStartPre=/usr/bin/python3 /usr/local/sbin/avfleet-agent --pull /etc/avfleet/agent.json",
      "ExecStart=/usr/bin/podman run --name=avfleet-gcp-usw1 --replace --rm --pull=never --network=host" +
        " --cap-drop=all --uidmap=0:2147483647:65536 --gidmap=0:2147483647:65536" +
        " --security-opt=no-new-privileges --read-only" +
        " --ulimit=nofile=1048576:1048576 --stop-signal=SIGTERM --stop-timeout=1800" +
        ` --env=AVFLEET_ADMIN_PORT=9090 ${AR_IMAGE}@${DIGEST}`,
      "KillMode=mixed",
      "ExecStopPost=/usr/bin/podman rm --force --ignore --time=0 avfleet-gcp-usw1",
      "Restart=on-failure",
      "RestartSec=10",
      "TimeoutStartSec=600",
      "KillSignal=SIGTERM",
      "TimeoutStopSec=1860",
      "",
      "[Install]",
      "WantedBy=multi-user.target",
      "",
    ].join("\n"),
  );
});

test("the container bootstrap installs podman (and ECR's credential helper), never an SFU package", () => {
  const gcpScript = bootstrapScript(gcp, hostTuning(gcp, hardware));
  const lines = gcpScript.split("\n");
  assert.equal(lines[2], `# avfleet-workload image=${AR_IMAGE}:2.4.1@${DIGEST}`);
  assert.ok(
    lines.includes(
      "  apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install -y -qq --allow-downgrades --no-install-recommends ethtool nftables python3 podman",
    ),
  );
  assert.ok(
    lines.includes(
      "  ! command -v ethtool >/dev/null || ! command -v nft >/dev/null || ! command -v python3 >/dev/null || ! command -v podman >/dev/null; then",
    ),
  );
  assert.ok(
    lines.includes(
      'systemctl start sfu.service || echo "avfleet-bootstrap: sfu.service did not start" >&2',
    ),
  );
  // no package version asked of dpkg (the Ops Agent is only asked whether it is installed)
  assert.doesNotMatch(gcpScript, /avfleet-sfu=|dpkg-query -W -f='\$\{Version\}'/);
  const awsScript = bootstrapScript(aws, hostTuning(aws, hardware));
  assert.match(
    awsScript,
    /^ {2}apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install -y -qq --allow-downgrades --no-install-recommends ethtool nftables python3 podman amazon-ecr-credential-helper$/m,
  );
  assert.match(awsScript, /! command -v docker-credential-ecr-login >\/dev\/null; then$/m);
  assert.deepEqual(
    [...bootstrapFiles(awsScript).keys()],
    [
      "/usr/local/sbin/avfleet-tune",
      "/etc/systemd/system/sfu.service",
      ...agentPackagePaths("aws"),
      "/usr/local/sbin/avfleet-agent",
      "/etc/avfleet/agent.json",
      "/etc/systemd/system/avfleet-agent.service",
      "/etc/systemd/system/avfleet-tune-check.service",
      "/etc/systemd/system/avfleet-tune-check.timer",
      "/etc/systemd/system/nftables.service.d/avfleet.conf",
      "/etc/systemd/system/poweroff.target.d/avfleet-drain.conf",
      "/etc/systemd/system/reboot.target.d/avfleet-drain.conf",
      "/etc/systemd/system/kexec.target.d/avfleet-drain.conf",
      "/etc/systemd/system/halt.target.d/avfleet-drain.conf",
    ],
  );
});

test("the agent's pull step knows the image, its registry and how to authenticate there", () => {
  assert.deepEqual(agentConfig(gcp).workload.image, {
    ref: `${AR_IMAGE}@${DIGEST}`,
    registry: "us-west1-docker.pkg.dev",
    auth: "google",
  });
  assert.deepEqual(agentConfig(aws).workload.image, {
    ref: `${ECR_IMAGE}@${DIGEST}`,
    registry: "123456789012.dkr.ecr.us-east-1.amazonaws.com",
    auth: "ecr",
  });
  const metal = loadStackFile(join(ROOT, "stacks/Pulumi.metal-sjc.yaml")).fleet!;
  const { adminPort, healthPath, statsPath, drainPath } = metal.workload;
  const tagOnly = {
    ...metal,
    workload: {
      image: "registry.example.net:5000/sfu",
      version: "2.4.1",
      adminPort,
      healthPath,
      statsPath,
      drainPath,
    },
  } as FleetSpec;
  // Another registry on bare metal: an anonymous pull of the tag.
  assert.deepEqual(agentConfig(tagOnly).workload.image, {
    ref: "registry.example.net:5000/sfu:2.4.1",
    registry: "registry.example.net:5000",
    auth: "none",
  });
  assert.match(
    metalPayload(tagOnly, hostTuning(tagOnly, hardware), "active").create,
    /^# avfleet-workload image=registry\.example\.net:5000\/sfu:2\.4\.1$/m,
  );
});

test("container cloud-configs pass cloud-init schema, and AWS user-data stays far under 16 KB gzipped", (t) => {
  // GCP carries its bootstrap as startup-script metadata (up to 256 KB), not user-data. AWS's
  // user-data is only the stub that fetches it: a quarter of the cap leaves the agent room to grow.
  const boot = awsBoot(aws, hostTuning(aws, hardware));
  const bytes = Buffer.from(boot.userData(TEST_BUCKET), "base64").length;
  t.diagnostic(
    `${aws.pool}: user-data ${bytes} bytes gzipped, its payload ${boot.payload.length} bytes`,
  );
  assert.ok(bytes <= AWS_USER_DATA_LIMIT / 4, `${aws.pool}: ${bytes}`);
  if (!prerequisite(t, missingCommands("cloud-init"))) return;
  assertCloudConfigsPass([gcp, aws], hardware);
});

test("the container bootstrap passes shellcheck (POSIX sh)", (t) => {
  if (!prerequisite(t, missingCommands("shellcheck"))) return;
  const file = join(mkdtempSync(join(tmpdir(), "avfleet-container-sh-")), "avfleet-bootstrap");
  writeFileSync(file, bootstrapScript(aws, hostTuning(aws, hardware)));
  const r = spawnSync("shellcheck", ["-s", "sh", file], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout);
});

test("a GCP container pool may read its Artifact Registry repository, and only that", () => {
  const plan = plans.get("gcp-container")!;
  const grant = resource(plan, "gcp-usw1-image-reader");
  assert.equal(grant.type, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember");
  assert.deepEqual(
    [grant.inputs.project, grant.inputs.location, grant.inputs.repository, grant.inputs.role],
    ["media-prod-usw1", "us-west1", "sfu", "roles/artifactregistry.reader"],
  );
  assert.ok(
    resource(plan, "gcp-usw1-template").inputs.serviceAccount.scopes.includes(
      "https://www.googleapis.com/auth/devstorage.read_only",
    ),
  );
});

test("an AWS container pool's role pulls from its ECR repository with exactly a pull's calls", () => {
  const policy = JSON.parse(resource(plans.get("aws-container")!, "aws-use1-policy").inputs.policy);
  assert.deepEqual(policy.Statement.slice(-2), [
    { Sid: "RegistryToken", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
    {
      Sid: "PullMediaImage",
      Effect: "Allow",
      Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
      Resource: "arn:aws:ecr:us-east-1:123456789012:repository/media/avfleet-sfu",
    },
  ]);
});

test("preview shows each container pool's image, tag and digest", () => {
  assert.equal(
    (plans.get("gcp-container")!.outputs.host as { workload: string }).workload,
    `${AR_IMAGE}:2.4.1@sha256:0123456789ab`,
  );
  assert.equal(
    (plans.get("aws-container")!.outputs.host as { workload: string }).workload,
    `${ECR_IMAGE}:2.4.1@sha256:0123456789ab`,
  );
});

test("container-image-pinned: quiet on digest-pinned pools, fires on a pool pinned by tag only", () => {
  const pinned = POLICIES.filter((p) => p.name === "container-image-pinned");
  for (const plan of plans.values()) {
    const { violations, judged } = evaluatePolicies(plan, pinned);
    assert.ok(judged["container-image-pinned"] > 0, plan.name);
    assert.deepEqual(violations, [], plan.name);
  }
  const tagOnly = structuredClone(plans.get("gcp-container")!);
  const template = resource(tagOnly, "gcp-usw1-template");
  template.inputs.metadataStartupScript = template.inputs.metadataStartupScript.replace(
    `@${DIGEST}`,
    "",
  );
  assert.deepEqual(
    evaluatePolicies(tagOnly, pinned).violations.map((v) => v.message),
    [`runs ${AR_IMAGE}:2.4.1 by tag only: hosts booted later may run another image`],
  );
});

test("a bad container workload stops preview: exit 2, file and key path named", () => {
  const bad = mkdtempSync(join(tmpdir(), "avfleet-container-bad-"));
  const doc = containerStack("gcp-us-west1", "registry.example.net/sfu:2.4.1", "sha256:abc");
  writeFileSync(join(bad, "Pulumi.bad.yaml"), YAML.stringify(doc));
  const result = avfleet(["preview", "--stacks-dir", bad]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  const file = join(bad, "Pulumi.bad.yaml");
  assert.equal(
    result.stderr,
    [
      `${file}: config.avfleet:fleet.workload.digest: is "sha256:abc", expected the image's manifest digest, sha256:<64 hex digits>: the bytes every host runs`,
      `${file}: config.avfleet:fleet.workload.image: is "registry.example.net/sfu:2.4.1", expected a container image name with its registry and no tag, e.g. us-west1-docker.pkg.dev/media-prod/sfu/avfleet-sfu`,
      "",
    ].join("\n"),
  );
});
