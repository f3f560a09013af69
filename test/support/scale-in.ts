/** The GCP pool the scale-in tests run the controller for, and the VM its stand-ins serve. */
import { join } from "node:path";
import type { GcpFleetSpec } from "../../modules/config/fleet.schema";
import { loadStacks } from "../../modules/stacks/stack";
import { scaleInConfig } from "../../modules/gcp-scale-in/controller";
import { GCP_MEDIA_LOAD_METRIC } from "../../modules/host/metrics";
import { gcpStandIns, scaleInPass, StandIns, type GcpPeer } from "../../bench/host/stand-ins";
import { ROOT } from "./cli";

export const EUW4 = loadStacks(join(ROOT, "stacks"), ["gcp-europe-west4"])[0].document.config[
  "avfleet:fleet"
] as GcpFleetSpec;

export const EUW4_VM = {
  project: "media-prod-euw4",
  projectNumber: "210987654321",
  region: "europe-west4",
  zone: "europe-west4-a",
  name: "gcp-euw4-a1b2",
  id: "5000000000000000001",
  group: "gcp-euw4-mig-3f9a",
  metricType: GCP_MEDIA_LOAD_METRIC,
};

/**
 * One pass of the controller of EUW4 (at most 9 marks per window) against stand-ins of its MIG:
 * this VM, running no agent, and `peers`; its report and every request the stand-ins saw.
 */
export async function euw4Pass(recommendedSize: number, peers: GcpPeer[]) {
  const s = new StandIns("127.0.0.1");
  try {
    const g = await gcpStandIns(s, EUW4_VM, {
      autoscaler: "gcp-euw4-autoscaler",
      recommendedSize,
      peers,
    });
    const scaleIn = { maxHostsPerWindow: 9, windowSec: 900 };
    const config = scaleInConfig(
      { ...EUW4, autoscaling: { ...EUW4.autoscaling, scaleIn } },
      EUW4_VM.project,
      EUW4_VM.region,
      { instanceGroupManager: EUW4_VM.group, autoscaler: "gcp-euw4-autoscaler" },
    );
    const report = await scaleInPass(config, g.endpoints);
    return { report, calls: s.calls, problems: s.problems };
  } finally {
    s.close();
  }
}
