/** avfleet tune — render a host's tuning (avfleet-tune script, cloud-init, sysctl.d) or explain it. */
import {
  loadHostFacts,
  PROFILE_NAMES,
  PROFILES,
  renderCloudInit,
  renderTuning,
  type ProfileName,
  type TuningArtifacts,
} from "../../modules/tuning";
import { EXIT, UsageError, parseCommandArgs, type Command } from "../cli";

const FORMATS = ["script", "cloud-init", "sysctl"] as const;

const RENDERERS: Record<(typeof FORMATS)[number], (a: TuningArtifacts) => string> = {
  script: (a) => a.script,
  "cloud-init": renderCloudInit,
  sysctl: (a) => a.sysctl,
};

function explain(a: TuningArtifacts): string {
  const width = Math.max(...a.settings.map((s) => `${s.area} ${s.name}`.length));
  return [
    `avfleet-tune ${a.version} profile=${a.profile} (${PROFILES[a.profile].summary})`,
    `hash=${a.hash}`,
    `NIC settings apply to: ${a.facts.interfaces?.join(", ") ?? "the default route's interface(s), found at run time"}`,
    "",
    ...a.settings.flatMap((s) => [
      `${`${s.area} ${s.name}`.padEnd(width)}  ${s.value}`,
      `${"".padEnd(width)}    why: ${s.reason}`,
    ]),
    "",
  ].join("\n");
}

export const command: Command = {
  summary: "render a media host's kernel/NIC tuning, or explain every value",
  help: `
Usage: avfleet tune render  --profile NAME --facts FILE [--format script|cloud-init|sysctl]
       avfleet tune explain --profile NAME --facts FILE [--json]

Computes a host's tuning from a named profile and a host facts file (YAML or JSON: cores,
nicDriver, rxQueues, txQueues, packetsPerSecond, stallMs, mediaUdpPorts, mediaWorkerCpus,
mediaUnit, optional interfaces; see modules/tuning/examples). Bad facts stop the command
before anything is rendered (exit 2).

  render   prints the avfleet-tune POSIX script (default), the cloud-init user-data that
           installs it and runs "avfleet-tune apply" at boot, or the sysctl.d file.
  explain  prints every value with the one-line reason it has that value.

On the host: avfleet-tune apply writes every setting and reads each back; avfleet-tune
verify only reads. Both print SETTING WANTED ACTUAL STATUS (ok | drift | not-applicable |
read-only) and exit 1 on drift.

Options:
  --profile NAME  ${PROFILE_NAMES.join(" | ")}
  --facts FILE    host facts
  --format F      render: script | cloud-init | sysctl (default script)
  --json          explain: {"profile","version","hash","settings":[{"area","name","value","reason"}]}

Examples:
  avfleet tune render --profile media-udp --facts modules/tuning/examples/gcp-n2d-16.yaml
  avfleet tune explain --profile media-udp --facts modules/tuning/examples/metal-64.yaml`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      profile: { type: "string" },
      facts: { type: "string" },
      format: { type: "string" },
      json: { type: "boolean" },
    });
    const [action, ...extra] = positionals;
    if (action !== "render" && action !== "explain") {
      throw new UsageError(`expected "render" or "explain", got ${JSON.stringify(action ?? "")}`);
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument(s) ${extra.join(" ")}`);
    const profile = values.profile as ProfileName | undefined;
    if (!profile || !PROFILE_NAMES.includes(profile)) {
      throw new UsageError(
        `--profile ${JSON.stringify(profile ?? "")} is not a profile, expected one of ${PROFILE_NAMES.join(" | ")}`,
      );
    }
    if (!values.facts) throw new UsageError("--facts FILE is required");
    const format = (values.format ?? "script") as (typeof FORMATS)[number];
    if (action === "explain" ? values.format !== undefined : !FORMATS.includes(format)) {
      throw new UsageError(
        `--format ${values.format} is not for ${action}, expected render with one of ${FORMATS.join(" | ")}`,
      );
    }
    if (action === "render" && values.json) throw new UsageError("--json is for explain");
    const artifacts = renderTuning(profile, loadHostFacts(values.facts));
    if (action === "render") {
      process.stdout.write(RENDERERS[format](artifacts));
    } else if (values.json) {
      const { version, hash, settings } = artifacts;
      const rows = settings.map(({ area, name, value, reason }) => ({ area, name, value, reason }));
      process.stdout.write(
        `${JSON.stringify({ profile, version, hash, settings: rows }, null, 2)}\n`,
      );
    } else {
      process.stdout.write(explain(artifacts));
    }
    return EXIT.ok;
  },
};
