/**
 * What a host receives at boot (or over SSH): one POSIX sh script, avfleet-bootstrap, that
 * installs the tuning, the media server and the agent, applies the tuning and starts the
 * units. It is carried three ways, each one the image's own boot system runs:
 *   - GCP: `startup-script` metadata, which Google's guest agent runs at every boot on every
 *     public image (Debian's GCE images have no cloud-init: `user-data` is ignored there);
 *   - AWS: an S3 object the pool declares, which a #cloud-config's stub fetches and runs at
 *     every boot (EC2's Debian, Ubuntu and Amazon Linux AMIs run cloud-init);
 *   - bare metal: the payload its host command (local.Command) hands over ssh.
 * Pure renders. Every file path is prefixed with $AVFLEET_ROOT (empty on a host), which is
 * how the host rehearsal runs these very bytes under a throwaway root.
 */
import { dirname } from "node:path/posix";
import { gzipSync } from "node:zlib";
import YAML from "yaml";
import type { FleetSpec } from "../config/fleet.schema";
import type { HostState } from "../inventory/inventory";
import { tuningMarker, type TuningArtifacts } from "../tuning";
import { sha256, shellQuote } from "../tuning/script";
import { SCRIPT_PATH } from "../tuning/settings";
import { agentConfig, agentFiles, type CloudWatchCounters } from "./agent";
import { bootStub, payloadKey } from "./boot-stub";
import { containerImage } from "./image";
import {
  OPS_AGENT_APT,
  OPS_AGENT_CONFIG_PATH,
  OPS_AGENT_KEY_PATH,
  OPS_AGENT_SOURCE_STAGED,
  opsAgentConfig,
  opsAgentInstall,
} from "./ops-agent";
import {
  AGENT_CONFIG_PATH,
  AGENT_UNIT,
  agentFirewall,
  agentSources,
  AGENT_STATE_DIR,
  agentUnit,
  FIREWALL_PATH,
  FIREWALL_UNIT,
  firewallUnit,
  NFTABLES_DROP_IN,
  nftablesDropIn,
  RUN_DIR,
  SHUTDOWN_TARGETS,
  shutdownDropIn,
  shutdownDropInPath,
  STATE_DIR,
  TEXTFILE_DIR,
  TUNE_CHECK_TIMER,
  TUNE_CHECK_UNIT,
  tuneCheckTimer,
  tuneCheckUnit,
  TUNE_UNIT,
  workloadUnit,
} from "./units";

export const BOOTSTRAP_PATH = "/usr/local/sbin/avfleet-bootstrap";
/**
 * Where an AWS host keeps it: cloud-init's scripts-per-boot module (cloud_final_modules, frequency
 * always) runs this directory at every boot, the first one included.
 */
export const PER_BOOT_BOOTSTRAP_PATH = "/var/lib/cloud/scripts/per-boot/avfleet-bootstrap";
/**
 * Written by the bootstrap's last step; /run is emptied at every boot, so it says this boot's
 * bootstrap is done (the AWS agent completes the launch only then).
 */
export const BOOTSTRAPPED_PATH = `${RUN_DIR}/bootstrapped`;
/** A bare-metal host's drain request: its agent drains when the file appears. */
export const DRAIN_REQUEST_PATH = `${STATE_DIR}/drain-requested`;
/** The first line of a draining bare-metal host's payload: it keeps the tuning it has. */
// The pack checks for this marker, so it lives with the pack's rules.
import {
  AGENT_LISTEN_MARKER,
  DRAIN_REQUEST_MARKER,
  WORKLOAD_MARKER,
} from "../../policy/contract/rules";
export { DRAIN_REQUEST_MARKER };
const END = "AVFLEET_BOOTSTRAP_EOF";

/** Debian's policy layer for maintainer scripts' service actions (invoke-rc.d(8)). */
export const POLICY_RC_D = "/usr/sbin/policy-rc.d";
/** apt's wait for the dpkg lock (apt.conf(5) DPkg::Lock::Timeout, seconds). */
const APT_WAIT = "-o DPkg::Lock::Timeout=300";
/** The line that makes a policy-rc.d the bootstrap's own (one the image brought stays). */
export const POLICY_RC_D_MARK = "# avfleet-bootstrap";

/** One file the bootstrap installs. */
export interface HostFile {
  path: string;
  mode: string;
  content: string;
}

/** Where the package's repository and its key go (apt's sources.list.d, Debian's keyrings). */
export const APT_SOURCE_PATH = "/etc/apt/sources.list.d/avfleet.sources";
export const APT_KEY_PATH = "/etc/apt/keyrings/avfleet.asc";

/**
 * The package's repository as a deb822 source (sources.list(5), apt ≥ 1.1; Debian 12 has 2.6)
 * trusting only its own key: Signed-By names an ASCII-armored key file, which apt ≥ 2.4 reads
 * as it is (no gpg --dearmor).
 */
export function aptSourceFiles(spec: FleetSpec): HostFile[] {
  const source = spec.workload.aptSource;
  if (!source) return [];
  const key = source.key.endsWith("\n") ? source.key : `${source.key}\n`;
  return [
    { path: APT_KEY_PATH, mode: "0644", content: key },
    debSource(APT_SOURCE_PATH, source, APT_KEY_PATH),
  ];
}

/** One deb822 source file whose packages apt accepts only when signed by the key at `keyPath`. */
export function debSource(
  path: string,
  source: { uri: string; suite: string; components?: string[] },
  keyPath: string,
): HostFile {
  return {
    path,
    mode: "0644",
    content: [
      "Types: deb",
      `URIs: ${source.uri}`,
      `Suites: ${source.suite}`,
      `Components: ${(source.components ?? ["main"]).join(" ")}`,
      `Signed-By: ${keyPath}`,
      "",
    ].join("\n"),
  };
}

export function hostFiles(
  spec: FleetSpec,
  tuning: TuningArtifacts,
  cloudwatch?: CloudWatchCounters,
): HostFile[] {
  const mediaUnit = tuning.facts.mediaUnit;
  return [
    ...aptSourceFiles(spec),
    { path: SCRIPT_PATH, mode: "0755", content: tuning.script },
    { path: `/etc/systemd/system/${mediaUnit}`, mode: "0644", content: workloadUnit(spec) },
    ...agentFiles(spec),
    {
      path: AGENT_CONFIG_PATH,
      mode: "0644",
      content: `${JSON.stringify(agentConfig(spec, tuning.facts.interfaces, cloudwatch))}\n`,
    },
    {
      path: `/etc/systemd/system/${AGENT_UNIT}`,
      mode: "0644",
      content: agentUnit(mediaUnit, spec.drainSeconds, spec.kind),
    },
    { path: `/etc/systemd/system/${TUNE_CHECK_UNIT}`, mode: "0644", content: tuneCheckUnit() },
    { path: `/etc/systemd/system/${TUNE_CHECK_TIMER}`, mode: "0644", content: tuneCheckTimer() },
    { path: NFTABLES_DROP_IN, mode: "0644", content: nftablesDropIn(spec.kind === "metal") },
    ...(spec.kind === "metal"
      ? [
          { path: FIREWALL_PATH, mode: "0644", content: agentFirewall(spec) },
          { path: `/etc/systemd/system/${FIREWALL_UNIT}`, mode: "0644", content: firewallUnit() },
        ]
      : []),
    ...SHUTDOWN_TARGETS.map((target) => ({
      path: shutdownDropInPath(target),
      mode: "0644",
      content: shutdownDropIn(spec.drainSeconds),
    })),
    ...(spec.kind === "gcp"
      ? [
          debSource(OPS_AGENT_SOURCE_STAGED, OPS_AGENT_APT, OPS_AGENT_KEY_PATH),
          { path: OPS_AGENT_CONFIG_PATH, mode: "0644", content: opsAgentConfig(spec) },
        ]
      : []),
  ];
}

function installFile(file: HostFile): string {
  if (!file.content.endsWith("\n") || file.content.split("\n").includes(END)) {
    throw new Error(`${file.path}: content must end with a newline and never hold ${END}`);
  }
  return `put ${shellQuote(file.path)} ${file.mode} <<'${END}'\n${file.content}${END}`;
}

/** The line that says what the host runs, for the policy pack (an image pinned by digest?). */
export function workloadMarker(spec: FleetSpec): string {
  const image = containerImage(spec);
  const what = image
    ? `image=${image.shown}`
    : `package=${spec.workload.package}=${spec.workload.version}`;
  return `${WORKLOAD_MARKER}${what}`;
}

/** The line that says who reaches a bare-metal host's agent port, for the policy pack. */
export function agentListenMarker(spec: FleetSpec): string {
  return `${AGENT_LISTEN_MARKER}port=${spec.ports.health.port} from=${agentSources(spec).join(",")}`;
}

/**
 * Installs what the host needs from Debian's repository when it is missing: the tuning's tools,
 * the agent's Python and the workload — its package at the exact version, or podman (Debian 12:
 * 4.3.1) and, for an ECR image, Debian's ECR credential helper.
 */
function installStep(spec: FleetSpec): string[] {
  const { workload } = spec;
  const image = containerImage(spec);
  const tools = ["ethtool", "nft", "python3"];
  const packages = ["ethtool", "nftables", "python3"];
  let stale: string;
  if (image) {
    tools.push("podman");
    packages.push("podman");
    if (image.auth === "ecr") {
      tools.push("docker-credential-ecr-login");
      packages.push("amazon-ecr-credential-helper");
    }
    stale = "false";
  } else {
    const pkg = `${workload.package}=${workload.version}`;
    packages.push(shellQuote(pkg));
    // Installed and configured ("ii "), not only unpacked at the version: a boot stopped in
    // the middle of dpkg (a standby VM, a warm pool host) leaves it "iU " or "iF " (dpkg-query(1),
    // db:Status-Abbrev; dpkg(1) --list).
    stale = `[ "$(dpkg-query -W -f='\${db:Status-Abbrev}\${Version}' ${shellQuote(workload.package!)} 2>/dev/null || :)" != ${shellQuote(`ii ${workload.version}`)} ]`;
  }
  return [
    "export DEBIAN_FRONTEND=noninteractive",
    // Ours, left by a boot stopped mid-install (its EXIT trap never ran): the host's other
    // packages must restart on their upgrades again.
    `! grep -qsx '${POLICY_RC_D_MARK}' "$ROOT${POLICY_RC_D}" || rm -f "$ROOT${POLICY_RC_D}"`,
    // A fresh host's apt-daily or unattended-upgrades may hold apt's locks at boot. The install
    // waits for dpkg's (DPkg::Lock::Timeout); dpkg --configure and apt-get update take theirs
    // without waiting (apt 2.6 apt-pkg/update.cc, the lists lock), so they are tried again.
    'w() { n=0; until "$@"; do n=$((n + 1)); [ $n -lt 30 ] || return 1; sleep 10; done; }',
    // dpkg --audit names every package left partly installed (dpkg(1)): a tool's command may
    // exist unconfigured.
    `if ${stale} || [ -n "$(dpkg --audit 2>/dev/null || :)" ] ||`,
    `  ${tools.map((t) => `! command -v ${t} >/dev/null`).join(" || ")}; then`,
    // A Debian package's maintainer scripts restart its service on upgrade (dh_installsystemd's
    // deb-systemd-invoke): a serving media server would lose its calls. policy-rc.d answering
    // 101 ("action forbidden", Debian's invoke-rc.d policy interface) stops that; the running
    // server keeps its binary until a drain restarts it (or the next boot).
    `  P=; [ -e "$ROOT${POLICY_RC_D}" ] || { P=1; printf '#!/bin/sh\\n${POLICY_RC_D_MARK}\\nexit 101\\n' >"$ROOT${POLICY_RC_D}"; chmod 755 "$ROOT${POLICY_RC_D}"; trap 'rm -f "$ROOT${POLICY_RC_D}"' EXIT; }`,
    // A boot stopped mid-install (an AWS warm pool host is stopped without waiting) leaves dpkg
    // interrupted, and apt-get refuses to run until it is configured.
    "  w dpkg --configure -a",
    // A conffile question has no terminal to ask: keep the host's. A rollback installs the
    // older version it pins: apt-get -y refuses a downgrade without --allow-downgrades.
    `  w apt-get ${APT_WAIT} update -qq`,
    `  apt-get ${APT_WAIT} -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install -y -qq --allow-downgrades --no-install-recommends ${packages.join(" ")}`,
    // Ours goes; one the image brought stays.
    `  [ -z "$P" ] || rm -f "$ROOT${POLICY_RC_D}"; trap - EXIT`,
    "fi",
  ];
}

/** What the agent kept in /var/lib/avfleet while it ran as root, now in its own directory. */
export const AGENT_STATE_FILES = ["drain.json", "drained", "published-at", "sessions.json"];

/**
 * A host upgraded from an agent that ran as root: its drain (and the rest of its state) moves
 * into the agent's own directory, the agent stopped meanwhile so that it writes neither place.
 * Only once: afterwards none of these files is left in /var/lib/avfleet.
 */
function migrateAgentState(): string[] {
  const old = AGENT_STATE_FILES.map((f) => `"$ROOT${STATE_DIR}/${f}"`).join(" ");
  return [
    `for f in ${old}; do`,
    '  [ -e "$f" ] || continue',
    `  [ -d "$ROOT${AGENT_STATE_DIR}" ] || { systemctl stop ${AGENT_UNIT}; mkdir -p "$ROOT${AGENT_STATE_DIR}"; }`,
    `  mv -f "$f" "$ROOT${AGENT_STATE_DIR}/"`,
    "done",
  ];
}

/**
 * The bootstrap script. Idempotent (GCP runs it at every boot, bare metal at every payload
 * change): it installs the package only when another version is there or a package is left
 * partly installed (podman only when it is missing), restarts the agent only when one of its
 * files changed (its drain state survives) and only starts the media server, never restarts it
 * under calls.
 */
export function bootstrapScript(
  spec: FleetSpec,
  tuning: TuningArtifacts,
  cloudwatch?: CloudWatchCounters,
): string {
  const mediaUnit = tuning.facts.mediaUnit;
  return [
    "#!/bin/sh",
    tuningMarker(tuning),
    workloadMarker(spec),
    `# avfleet-bootstrap pool=${spec.pool}: rendered by avfleet (modules/host).`,
    "set -eu",
    "ROOT=${AVFLEET_ROOT:-}",
    // A file the same as the host's is left in place (its mode set): the agent is restarted
    // only when one changed (CHANGED), not at every boot of a GCP host (a standby VM started).
    // cmp is diffutils', an Essential package of Debian.
    "CHANGED=",
    "put() {",
    '  mkdir -p "$(dirname "$ROOT$1")"',
    '  cat >"$ROOT$1.avfleet-new"',
    '  chmod "$2" "$ROOT$1.avfleet-new"',
    '  if cmp -s "$ROOT$1.avfleet-new" "$ROOT$1"; then chmod "$2" "$ROOT$1"; rm -f "$ROOT$1.avfleet-new"; return 0; fi',
    '  mv -f "$ROOT$1.avfleet-new" "$ROOT$1"',
    "  CHANGED=1",
    "}",
    ...hostFiles(spec, tuning, cloudwatch).map(installFile),
    `mkdir -p "$ROOT${TEXTFILE_DIR}"`,
    ...installStep(spec),
    "# Drift is reported by the media server's ExecStartPre and the agent's health check.",
    `AVFLEET_TUNE_ROOT="$ROOT" "$ROOT${SCRIPT_PATH}" apply || echo "avfleet-bootstrap: tuning drifts" >&2`,
    "systemctl daemon-reload",
    `systemctl enable ${TUNE_UNIT} ${mediaUnit} ${AGENT_UNIT} ${TUNE_CHECK_TIMER}`,
    `systemctl start ${TUNE_CHECK_TIMER}`,
    // From here the agent may be stopped (its state moved, a bare-metal host's drain checked):
    // whatever ends the script, a failure, the drain check's exit or a signal (an SSH session
    // that drops, a deploy's timeout), it runs again. dash runs the EXIT trap on `set -e` exits
    // and keeps their status; a signal's trap must exit for it to run.
    `trap 'systemctl start ${AGENT_UNIT} || true' EXIT`,
    "trap 'exit 129' HUP",
    "trap 'exit 130' INT",
    "trap 'exit 141' PIPE",
    "trap 'exit 143' TERM",
    ...migrateAgentState(),
    ...(spec.kind === "metal"
      ? [
          // Before the agent's restart below: a changed list of sources applies at once.
          `systemctl enable ${FIREWALL_UNIT}`,
          `systemctl restart ${FIREWALL_UNIT}`,
          // Set active again while its drain runs: the server takes no joins until the drain
          // ends (the contract has no undrain), and a restart would cut the calls it still
          // carries. Fail, so the up names the host and it gets no DNS record yet.
          // The agent stops first: a tick between the check and the request's removal would
          // start the drain the check did not see. The EXIT trap above starts it again.
          `systemctl stop ${AGENT_UNIT}`,
          `if [ -e "$ROOT${AGENT_STATE_DIR}/drain.json" ] && [ ! -e "$ROOT${AGENT_STATE_DIR}/drained" ]; then`,
          `  echo "avfleet-bootstrap: $(uname -n) is still draining: set it active again once ${AGENT_STATE_DIR}/drained is there" >&2`,
          "  exit 1",
          "fi",
        ]
      : []),
    "# A bare-metal host set active again: no drain request, and after a finished drain the",
    "# media server takes sessions again. Only now, after the install: policy-rc.d kept the",
    "# package's own restart from the serving server, so this restart starts the new binary.",
    `rm -f "$ROOT${DRAIN_REQUEST_PATH}"`,
    `if [ -e "$ROOT${AGENT_STATE_DIR}/drained" ]; then`,
    `  rm -f "$ROOT${AGENT_STATE_DIR}/drain.json" "$ROOT${AGENT_STATE_DIR}/drained"`,
    `  systemctl restart ${mediaUnit}`,
    "fi",
    containerImage(spec)
      ? // A failed pull fails the start; the agent still starts and reports the host unhealthy
        // while systemd tries the pull again.
        `systemctl start ${mediaUnit} || echo "avfleet-bootstrap: ${mediaUnit} did not start" >&2`
      : `systemctl start ${mediaUnit}`,
    `mkdir -p "$ROOT${dirname(BOOTSTRAPPED_PATH)}"`,
    `date >"$ROOT${BOOTSTRAPPED_PATH}"`,
    // Unchanged, the agent that runs (started at boot, or by the EXIT trap's start) goes on:
    // its drain and a first boot's admission are as it left them.
    'if [ -n "$CHANGED" ]; then',
    `  systemctl restart ${AGENT_UNIT}`,
    "else",
    `  systemctl start ${AGENT_UNIT}`,
    "fi",
    ...(spec.kind === "gcp" ? opsAgentInstall(APT_WAIT) : []),
    "",
  ].join("\n");
}

/**
 * A #cloud-config that writes the boot stub (modules/host/boot-stub.ts) where cloud-init runs it
 * at every boot, not as runcmd: cloud-init marks a per-instance module done before it runs it, so
 * a first boot stopped in the middle (an AWS warm pool host) would never run the rest. The stub
 * fetches the bootstrap from `bucket` (pinned by its sha256) and runs it; the bootstrap is
 * idempotent. Its first lines carry the payload's markers, as the bootstrap's do.
 */
export function cloudConfig(
  spec: FleetSpec,
  tuning: TuningArtifacts,
  bucket: string,
  payload = bootstrapScript(spec, tuning),
): string {
  const doc = {
    write_files: [
      {
        path: PER_BOOT_BOOTSTRAP_PATH,
        owner: "root:root",
        permissions: "0755",
        content: bootStub(bucket, sha256(payload), BOOTSTRAP_PATH),
      },
    ],
  };
  return `#cloud-config\n${tuningMarker(tuning)}\n${workloadMarker(spec)}\n${YAML.stringify(doc, { lineWidth: 0, indentSeq: false })}`;
}

/**
 * What an AWS pool declares for its hosts' boot: the bootstrap as an S3 object (its key and
 * bytes) and, for the bucket that holds it, the launch template's user-data.
 */
export function awsBoot(spec: FleetSpec, tuning: TuningArtifacts, cloudwatch?: CloudWatchCounters) {
  const payload = bootstrapScript(spec, tuning, cloudwatch);
  return {
    payload,
    key: payloadKey(sha256(payload)),
    userData: (bucket: string) => awsUserData(cloudConfig(spec, tuning, bucket, payload)),
  };
}

export type AwsBoot = ReturnType<typeof awsBoot>;

/**
 * GCE takes a metadata value (the bootstrap as `startup-script`) of at most 262,144 bytes
 * (https://cloud.google.com/compute/docs/reference/rest/v1/instanceTemplates, metadata.items[].value).
 */
export const GCP_METADATA_VALUE_LIMIT = 262144;

/** AWS caps user-data at 16 KB before base64; cloud-init takes gzipped user-data as is. */
export const AWS_USER_DATA_LIMIT = 16384;

/** EC2 user-data: the cloud-config gzipped, then base64 as the launch template wants it. */
export function awsUserData(cloudConfigText: string): string {
  const gzipped = gzipSync(cloudConfigText, { level: 9 });
  if (gzipped.length > AWS_USER_DATA_LIMIT) {
    throw new Error(
      `user-data is ${gzipped.length} bytes gzipped, over AWS's ${AWS_USER_DATA_LIMIT}`,
    );
  }
  return gzipped.toString("base64");
}

/**
 * What a bare-metal host gets, as a payload part (header, files installed as root, commands
 * run as root: the shape modules/fleets' metal payload renders, through sudo or a root
 * login). An active host gets the bootstrap and runs it. A draining host gets only a drain
 * request for its agent: nothing else on it changes under live calls (no new tuning, unit or
 * package).
 */
export function metalPart(spec: FleetSpec, tuning: TuningArtifacts, state: HostState) {
  if (state === "draining") {
    return {
      header: [DRAIN_REQUEST_MARKER],
      files: [
        { path: DRAIN_REQUEST_PATH, mode: "0644", content: "set by the inventory: draining\n" },
      ],
      commands: [] as string[][],
    };
  }
  return {
    header: [tuningMarker(tuning), workloadMarker(spec), agentListenMarker(spec)],
    files: [{ path: BOOTSTRAP_PATH, mode: "0755", content: bootstrapScript(spec, tuning) }],
    commands: [[BOOTSTRAP_PATH]],
  };
}

/**
 * The part alone as one root script, its files under $AVFLEET_ROOT when set: what the host
 * rehearsal runs in its throwaway root. A site's hosts get the part inside their class's payload
 * (modules/host-payloads/metal-payload.ts), with the tuning's part before it.
 */
export function metalPayload(
  spec: FleetSpec,
  tuning: TuningArtifacts,
  state: HostState,
): { create: string; hash: string } {
  const part = metalPart(spec, tuning, state);
  const create = [
    ...part.header,
    "set -eu",
    ...part.files.flatMap((file) => [
      `base64 -d <<'${END}' | install -D -m ${file.mode} /dev/stdin "\${AVFLEET_ROOT:-}"${shellQuote(file.path)}`,
      Buffer.from(file.content)
        .toString("base64")
        .replace(/(.{76})/g, "$1\n")
        .trimEnd(),
      END,
    ]),
    ...part.commands.map((argv) => `"\${AVFLEET_ROOT:-}"${argv.map(shellQuote).join(" ")}`),
    "",
  ].join("\n");
  return { create, hash: sha256(create) };
}
