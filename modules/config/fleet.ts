/**
 * Checks of a fleet spec a schema cannot express: orderings, overlaps, one purpose per port,
 * zones inside the region, a receiver's secret set exactly when it is read. They take the stack
 * file's config for the provider keys and secrets beside the fleet.
 */
import type { KeyPath, Problem } from "../inputs/problems";
import { dnsProviderProblems, type StackConfig } from "./dns.schema";
import type { AwsFleetSpec, FleetSpec, GcpFleetSpec } from "./fleet.schema";
import { NOTIFY_SECRET_KEYS, SEVERITIES, needsSecret } from "./notify.schema";

function rangesOverlap(a: { from: number; to: number }, b: { from: number; to: number }): boolean {
  return a.from <= b.to && b.from <= a.to;
}

function zoneProblems(zones: string[], region: string, at: (i: number) => KeyPath): Problem[] {
  const problems: Problem[] = [];
  zones.forEach((zone, i) => {
    // GCP zones are <region>-<letter>, AWS zones <region><letter>.
    if (!new RegExp(`^${region}-?[a-z]$`).test(zone)) {
      problems.push({
        path: at(i),
        message: `is "${zone}", outside region ${region}`,
        expected: `a zone of ${region}`,
      });
    } else if (zones.indexOf(zone) !== i) {
      problems.push({ path: at(i), message: `is "${zone}" again`, expected: "each zone once" });
    }
  });
  return problems;
}

/**
 * Checks a schema cannot express: orderings, overlaps, zones inside the region, the DNS
 * provider's own config being there.
 */
export function fleetProblems(
  fleet: FleetSpec,
  config: StackConfig,
  at: KeyPath,
  /** Keys the schema refused: a check that reads one would only restate its problem. */
  refused: (path: KeyPath) => boolean = () => false,
): Problem[] {
  const problems: Problem[] = [];
  const readable = (...keys: KeyPath[]) => !keys.some(refused);
  if (
    fleet.kind !== "metal" &&
    readable([...at, "minHosts"], [...at, "maxHosts"]) &&
    fleet.minHosts > fleet.maxHosts
  ) {
    problems.push({
      path: [...at, "minHosts"],
      message: `is ${fleet.minHosts}, more than maxHosts ${fleet.maxHosts}`,
      expected: "minHosts ≤ maxHosts",
    });
  }
  problems.push(...(readable([...at, "ports"]) ? portProblems(fleet, at) : []));
  if (readable([...at, "ports"], [...at, "workload", "adminPort"])) {
    problems.push(...adminPortProblems(fleet, at));
  }
  if (readable([...at, "alerting"], ["config", "aws:region"])) {
    problems.push(...notifyProblems(fleet, config, at));
  }
  if (fleet.kind === "gcp" && readable([...at, "zones"], ["config", "gcp:region"])) {
    problems.push(...zoneProblems(fleet.zones, config["gcp:region"]!, (i) => [...at, "zones", i]));
  }
  if (fleet.kind === "aws" && readable([...at, "subnets"], ["config", "aws:region"])) {
    problems.push(
      ...zoneProblems(
        fleet.subnets.map((s) => s.zone),
        config["aws:region"]!,
        (i) => [...at, "subnets", i, "zone"],
      ),
    );
  }
  if (fleet.kind === "metal") {
    if (readable([...at, "dns"])) problems.push(...dnsProviderProblems(fleet.dns.provider, config));
    if (fleet.ssh?.agent && config["avfleet:sshPrivateKey"] !== undefined) {
      problems.push({
        path: ["config", "avfleet:sshPrivateKey"],
        message: `is set, but ${[...at, "ssh", "agent"].slice(1).join(".")} is true: the hosts are reached with the operator's ssh-agent, never with this key`,
        expected:
          "no avfleet:sshPrivateKey (pulumi config rm avfleet:sshPrivateKey), or ssh.agent false",
      });
    }
  }
  return problems;
}

/**
 * A receiver's secret is set exactly when a receiver reads it, and an existing SNS topic is in
 * the alarms' region: CloudWatch alarm actions name a topic of the alarm's own region.
 */
function notifyProblems(fleet: FleetSpec, config: StackConfig, at: KeyPath): Problem[] {
  const problems: Problem[] = [];
  for (const severity of SEVERITIES) {
    const key = NOTIFY_SECRET_KEYS[severity];
    const receiver = fleet.alerting?.notify[severity];
    // an Alertmanager receiver reads its keys from files on its own host
    const cloud = fleet.kind === "metal" ? undefined : fleet.alerting?.notify[severity];
    const reads = !!cloud && needsSecret(cloud);
    const where = [...at, "alerting", "notify", severity].slice(1).join(".");
    if (reads && config[key] === undefined) {
      problems.push({
        path: ["config", key],
        message: `is missing, but ${where} reads its key from it`,
        expected: `a Pulumi secret (pulumi config set --secret ${key} < key)`,
      });
    } else if (!reads && config[key] !== undefined) {
      problems.push({
        path: ["config", key],
        message: `is set, but no receiver reads it (${where} ${receiver ? "takes no secret" : "is not declared"})`,
        expected: `no ${key} (pulumi config rm ${key}), or a receiver that reads it`,
      });
    }
    const arn = cloud && "topicArn" in cloud ? cloud.topicArn : undefined;
    const region = arn?.split(":")[3];
    if (fleet.kind === "aws" && region && region !== config["aws:region"]) {
      problems.push({
        path: [...at, "alerting", "notify", severity, "topicArn"],
        message: `is a topic in ${region}, not in aws:region ${config["aws:region"]}`,
        expected:
          "an SNS topic in the stack's region (CloudWatch alarms notify only topics of their region)",
      });
    }
  }
  return problems;
}

/** Every declared port has one purpose, and the media range is not empty. */
function portProblems(fleet: FleetSpec, at: KeyPath): Problem[] {
  const problems: Problem[] = [];
  const { mediaUdp, signalingTcp, health } = fleet.ports;
  if (mediaUdp.from > mediaUdp.to) {
    problems.push({
      path: [...at, "ports", "mediaUdp"],
      message: `is ${mediaUdp.from}–${mediaUdp.to}, an empty range`,
      expected: "from ≤ to",
    });
  }
  // A port that is both a media port and a signaling or health port makes firewall rules and
  // the SFU's own binding ambiguous, so every declared port has one purpose.
  const named: { path: KeyPath; label: string; range: { from: number; to: number } }[] = [
    { path: [...at, "ports", "mediaUdp"], label: "the media UDP range", range: mediaUdp },
    ...signalingTcp.map((p, i) => ({
      path: [...at, "ports", "signalingTcp", i] as KeyPath,
      label: `signaling port ${p}`,
      range: { from: p, to: p },
    })),
    {
      path: [...at, "ports", "health", "port"],
      label: `health port ${health.port}`,
      range: { from: health.port, to: health.port },
    },
  ];
  for (let i = 0; i < named.length; i++) {
    for (let j = 0; j < i; j++) {
      if (rangesOverlap(named[i].range, named[j].range)) {
        problems.push({
          path: named[i].path,
          message: `overlaps ${named[j].label}`,
          expected: "ports that do not overlap",
        });
      }
    }
  }
  return problems;
}

/**
 * The SFU's loopback admin port is a TCP listener on the same host as the agent's health port
 * and the signaling ports, so sharing a number with either fails the second bind at boot
 * (EADDRINUSE: Linux refuses a loopback bind under a wildcard listener of the same port, see
 * docs/real-path.md "Admin port collisions"). The media range is UDP, another port space, so
 * a TCP admin port inside it is no collision.
 */
function adminPortProblems(fleet: FleetSpec, at: KeyPath): Problem[] {
  const adminPort = fleet.workload.adminPort;
  const { signalingTcp, health } = fleet.ports;
  const taken = [
    ...(health.port === adminPort ? [`the health port (ports.health.port ${health.port})`] : []),
    ...signalingTcp.flatMap((p, i) =>
      p === adminPort ? [`signaling TCP port ports.signalingTcp[${i}] ${p}`] : [],
    ),
  ];
  return taken.map((what) => ({
    path: [...at, "workload", "adminPort"],
    message: `is ${adminPort}, the same TCP port as ${what}: the SFU and the agent would collide at boot`,
    expected: "a TCP port no other listener on the host uses (not the health or a signaling port)",
  }));
}

/** The host counts of a metal fleet come from its inventory; a number here would be ignored. */
export function metalHostCountProblems(fleet: FleetSpec, at: KeyPath): Problem[] {
  if (fleet.kind !== "metal") return [];
  return (["minHosts", "maxHosts"] as const)
    .filter((key) => (fleet as Record<string, unknown>)[key] !== undefined)
    .map((key) => ({
      path: [...at, key],
      message: `is set on a metal fleet, whose hosts are its inventory's active hosts`,
      expected: `no ${key} (add, retire or drain hosts in ${fleet.inventory} instead)`,
    }));
}

/**
 * Whether the pool boots from stopped hosts under its policy: ours keeps an AWS warm pool or a
 * GCP MIG standby pool, unless the stack turns it off. Here, below both readers: the scaling
 * compiles the pool, the host holds a GCP refill's first boot out of rotation.
 */
export function warmPoolOf(spec: GcpFleetSpec | AwsFleetSpec): boolean {
  if (spec.autoscaling.policy !== "ours") return false;
  return spec.kind === "gcp" ? spec.autoscaling.standbyPool : spec.autoscaling.warmPool;
}
