/**
 * Rendered tuning for one host class, and the two ways it reaches hosts: cloud-init
 * user-data (GCP, AWS) and its part of a bare-metal host's SSH payload. Both install the
 * same avfleet-tune script, which installs the files and applies the settings.
 */
import { gzipSync } from "node:zlib";
import YAML from "yaml";
import type { ProfileName } from "./profiles";
import { assertHostFacts, type HostFacts } from "./schema";
import { AVFLEET_TUNE_VERSION, fileSettings, renderScript, sha256, TOOL_PACKAGES } from "./script";
import { planTuning, SCRIPT_PATH, type InstalledFile, type Setting } from "./settings";

export const TUNING_MARKER_PREFIX = "# avfleet-tune ";

export interface TuningArtifacts {
  profile: ProfileName;
  /** The avfleet-tune format version. */
  version: string;
  facts: HostFacts;
  /** Every value with its one-line reason: what `avfleet tune explain` prints. */
  settings: Setting[];
  /** /etc/sysctl.d/90-avfleet-tune.conf */
  sysctl: string;
  /** Every file avfleet-tune apply installs (sysctl.d, limits.d, systemd units). */
  files: InstalledFile[];
  /** The avfleet-tune POSIX script, settings baked in. */
  script: string;
  /** sha256 of everything rendered. */
  hash: string;
}

/**
 * Pure. The facts are validated again here (labelled `facts`), so no caller can get an
 * unchecked value into a root script.
 */
export function renderTuning(profile: ProfileName, facts: HostFacts): TuningArtifacts {
  const checked = assertHostFacts("facts", structuredClone(facts));
  const plan = planTuning(profile, checked);
  const script = renderScript(profile, plan);
  const sysctl = plan.files.find((f) => f.path.startsWith("/etc/sysctl.d/"))!.content;
  return {
    profile,
    version: AVFLEET_TUNE_VERSION,
    facts: checked,
    settings: [...fileSettings(plan.files), ...plan.settings],
    sysctl,
    files: plan.files,
    script,
    hash: sha256(
      JSON.stringify({ version: AVFLEET_TUNE_VERSION, profile, files: plan.files, script }),
    ),
  };
}

export function tuningMarker(artifacts: TuningArtifacts): string {
  return `${TUNING_MARKER_PREFIX}${artifacts.version} profile=${artifacts.profile} hash=${artifacts.hash}`;
}

/**
 * A complete #cloud-config document: installs ethtool and nftables (the script reads and
 * sets NICs and conntrack with them), writes avfleet-tune, and runs apply, which installs
 * the files and enables the boot unit that re-applies at every boot. The script is gzipped:
 * AWS caps user-data at 16 KB, and the marker line stays readable.
 */
export function renderCloudInit(artifacts: TuningArtifacts): string {
  const doc = {
    packages: Object.values(TOOL_PACKAGES),
    write_files: [
      {
        path: SCRIPT_PATH,
        owner: "root:root",
        permissions: "0755",
        encoding: "gz+b64",
        content: gzipSync(artifacts.script, { level: 9 }).toString("base64"),
      },
    ],
    runcmd: [[SCRIPT_PATH, "apply"]],
  };
  return `#cloud-config\n${tuningMarker(artifacts)}\n${YAML.stringify(doc, { lineWidth: 0 })}`;
}

/**
 * The tuning's part of a bare-metal host's SSH payload (modules/host-payloads/metal-payload.ts
 * renders the parts with the site's privilege): the marker policies look for, the script,
 * and `provision`, which installs the tools the script calls and applies.
 */
export function hostPayloadPart(artifacts: TuningArtifacts) {
  return {
    header: [tuningMarker(artifacts)],
    files: [{ path: SCRIPT_PATH, mode: "0755", content: artifacts.script }],
    commands: [[SCRIPT_PATH, "provision"]],
  };
}
