/** avfleet diagnose — which pools burn their SLO budgets, which hosts misbehave, and why. */
import { diagnose, prometheusVectors, renderDiagnosis } from "../../modules/observe/diagnose";
import { EXIT, UsageError, parseCommandArgs, type Command } from "../cli";

export const command: Command = {
  summary: "rank pools and hosts by SLO burn and name the cause from the host counters",
  help: `
Usage: avfleet diagnose --prometheus URL [--pool P] [--since 1h] [--json]

Queries Prometheus (instant queries over the last --since) for every SLI's bad share per pool
and for the host agents' counters, then:
  - lists the pools whose SLIs burn more than their error budget allows (burn > 1), worst first;
  - names each one's likely cause: kernel-buffer (UDP RcvbufErrors: fix by tuning),
    cloud-allowance (ethtool *_allowance_exceeded: a larger type or TIER_1, tuning cannot),
    cpu-saturation (capacity), zone (one zone burns, the pool's others do not), or unknown;
  - lists hosts with a cause (also tuning-drift and agent-down), with the fix;
  - prints the queries and values each verdict rests on.

Options:
  --prometheus URL  Prometheus base URL (e.g. http://127.0.0.1:9090)
  --pool P          only this pool and its hosts
  --since D         window, a Prometheus duration: 30s, 15m, 1h, 1d (default 1h)
  --json            {"since","wrong","pools":[{pool,region,burns,worst,cause,culprits,fix,evidence}],"hosts":[...]}

Exit 1 when a pool burns budget or a host has a cause; 3 when Prometheus cannot be queried.`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      prometheus: { type: "string" },
      pool: { type: "string" },
      since: { type: "string" },
      json: { type: "boolean" },
    });
    if (positionals.length > 0)
      throw new UsageError(`unexpected argument(s) ${positionals.join(" ")}`);
    const url = values.prometheus;
    if (!url || !/^https?:\/\/[^\s/]+/.test(url)) {
      throw new UsageError(
        `--prometheus ${JSON.stringify(url ?? "")} is not a URL, expected http(s)://host:port`,
      );
    }
    const since = values.since ?? "1h";
    if (!/^\d+[smhdw]$/.test(since)) {
      throw new UsageError(
        `--since ${JSON.stringify(since)} is not a duration, expected e.g. 30s, 15m, 1h, 1d`,
      );
    }
    if (values.pool !== undefined && !/^[a-z0-9][a-z0-9-]*$/.test(values.pool)) {
      throw new UsageError(
        `--pool ${JSON.stringify(values.pool)} is not a pool name, expected [a-z0-9-]`,
      );
    }
    const d = await diagnose(prometheusVectors(url), { since, pool: values.pool });
    process.stdout.write(values.json ? `${JSON.stringify(d, null, 2)}\n` : renderDiagnosis(d));
    return d.wrong ? EXIT.findings : EXIT.ok;
  },
};
