/**
 * Grafana dashboards as code, one per media region: SLIs per pool against their objectives,
 * burn rates and budget left, host drops by cause, capacity against demand, traffic weights.
 * Every query reads a series the rules record or the fleet and host agents export, so a
 * dashboard never draws a name nothing writes. Dashboard JSON model, schemaVersion 39
 * (Grafana 10.4+ loads it; later versions migrate it on load), checked at compile time against
 * the types Grafana generates from its dashboard schema (@grafana/schema).
 */
import type { Dashboard as GrafanaDashboard, ThresholdsMode } from "@grafana/schema";
import { ACTIVE_SESSIONS, HEALTHY_HOSTS } from "../gates/slo";
import { num } from "./rules";
import {
  HOST_METRICS,
  HOST_THRESHOLDS,
  MAX_HOSTS,
  ratioRecord,
  SLIS,
  TRAFFIC_WEIGHT,
} from "./spec";

type GridPos = { x: number; y: number; w: number; h: number };

/** A row header; its panels follow it in the dashboard's list (an expanded row holds none). */
export interface RowPanel {
  id: number;
  type: "row";
  title: string;
  gridPos: GridPos;
  collapsed: boolean;
  panels: [];
}

export interface QueryPanel {
  id: number;
  type: "timeseries";
  title: string;
  gridPos: GridPos;
  datasource: { type: "prometheus"; uid: string };
  targets: { refId: string; expr: string; legendFormat: string }[];
  fieldConfig: ReturnType<typeof fieldConfig>;
}

export type Panel = RowPanel | QueryPanel;

export interface Dashboard {
  uid: string;
  title: string;
  tags: string[];
  timezone: string;
  schemaVersion: number;
  editable: boolean;
  time: { from: string; to: string };
  refresh: string;
  templating: { list: unknown[] };
  panels: Panel[];
}

const DS = { type: "prometheus" as const, uid: "${datasource}" };

interface PanelSpec {
  title: string;
  queries: [expr: string, legend: string][];
  unit: string;
  /** A red threshold line (the objective, the burn a page needs). */
  threshold?: number;
  max?: number;
}

/** What every dashboard draws, for the media region's label value. */
export function panelSpecs(region: string): { row: string; panels: PanelSpec[] }[] {
  const r = `region="${region}"`;
  const h = HOST_METRICS;
  return [
    {
      row: "SLIs per pool (good share of events, 5 m)",
      panels: SLIS.map((sli) => ({
        title: `${sli.name}: ${sli.summary}`,
        queries: [[`1 - ${ratioRecord("5m")}{slo="${sli.name}",${r}}`, "{{pool}}"]],
        unit: "percentunit",
        threshold: sli.objective,
        max: 1,
      })),
    },
    {
      row: "Error budget burn (1 h) and budget left (30 d)",
      panels: SLIS.map((sli) => {
        const budget = num(1 - sli.objective);
        return {
          title: `${sli.name}: burn rate`,
          queries: [
            [`${ratioRecord("1h")}{slo="${sli.name}",${r}} / ${budget}`, "{{pool}} burn 1h"],
            [
              `1 - ${ratioRecord("30d")}{slo="${sli.name}",${r}} / ${budget}`,
              "{{pool}} budget left",
            ],
          ],
          unit: "none",
          threshold: 14.4,
        };
      }),
    },
    {
      row: "Host drops by cause",
      panels: [
        {
          title: "Kernel: UDP receive-buffer drops / datagrams (fix: tuning)",
          queries: [
            [
              `sum by (pool, host) (rate(${h.rcvbufErrors}{${r}}[5m])) / sum by (pool, host) (rate(${h.inDatagrams}{${r}}[5m]) + rate(${h.rcvbufErrors}{${r}}[5m]))`,
              "{{pool}} {{host}}",
            ],
          ],
          unit: "percentunit",
          threshold: HOST_THRESHOLDS.rcvbufDropRatio,
        },
        {
          title: "Cloud: packets over the allowance (fix: larger type / TIER_1)",
          queries: [
            [`sum by (pool, counter) (rate(${h.allowance}{${r}}[5m]))`, "{{pool}} {{counter}}"],
          ],
          unit: "pps",
        },
        {
          title: "CPU busy (fix: capacity)",
          queries: [
            [
              `1 - sum by (pool, host) (rate(${h.cpu}{${r},mode=~"idle|iowait"}[5m])) / sum by (pool, host) (rate(${h.cpu}{${r}}[5m]))`,
              "{{pool}} {{host}}",
            ],
          ],
          unit: "percentunit",
          threshold: HOST_THRESHOLDS.cpuBusy,
          max: 1,
        },
        {
          title: "Tuning drift (avfleet-tune verify)",
          queries: [[`sum by (pool) (${h.tuningDrift}{${r}})`, "{{pool}}"]],
          unit: "none",
        },
      ],
    },
    {
      row: "Capacity and demand",
      panels: [
        {
          title: "Sessions in progress",
          queries: [[`sum by (pool) (${ACTIVE_SESSIONS}{${r}})`, "{{pool}}"]],
          unit: "none",
        },
        {
          title: "Healthy hosts against the ceiling",
          queries: [
            [`sum by (pool) (${HEALTHY_HOSTS}{${r}})`, "{{pool}} healthy"],
            [`sum by (pool) (${MAX_HOSTS}{${r}})`, "{{pool}} max"],
          ],
          unit: "none",
        },
        {
          title: "Traffic weights (weighted DNS)",
          queries: [[`sum by (pool) (${TRAFFIC_WEIGHT}{${r}})`, "{{pool}}"]],
          unit: "none",
          max: 100,
        },
      ],
    },
  ];
}

function fieldConfig(p: PanelSpec) {
  const steps: { color: string; value: number | null }[] = [{ color: "green", value: null }];
  if (p.threshold !== undefined) steps.push({ color: "red", value: p.threshold });
  return {
    defaults: {
      unit: p.unit,
      ...(p.max !== undefined ? { max: p.max } : {}),
      // the schema's enum, whose value is this string; importing it would load the package
      thresholds: { mode: "absolute" as `${ThresholdsMode.Absolute}` as ThresholdsMode, steps },
      custom: { thresholdsStyle: { mode: p.threshold !== undefined ? "line" : "off" } },
    },
    overrides: [],
  };
}

/** Pure: the dashboard of one media region. Panels two to a row, 12 columns wide, 8 high. */
export function regionDashboard(region: string): Dashboard {
  const panels: Panel[] = [];
  let id = 1;
  let y = 0;
  for (const group of panelSpecs(region)) {
    panels.push({
      id: id++,
      type: "row" as const,
      title: group.row,
      gridPos: { x: 0, y: y++, w: 24, h: 1 },
      collapsed: false,
      panels: [],
    });
    group.panels.forEach((p, i) => {
      panels.push({
        id: id++,
        type: "timeseries" as const,
        title: p.title,
        datasource: DS,
        gridPos: { x: (i % 2) * 12, y: y + Math.floor(i / 2) * 8, w: 12, h: 8 },
        targets: p.queries.map(([expr, legendFormat], k) => ({
          refId: String.fromCharCode(65 + k),
          expr,
          legendFormat,
        })),
        fieldConfig: fieldConfig(p),
      });
    });
    y += Math.ceil(group.panels.length / 2) * 8;
  }
  const dashboard = {
    uid: `avfleet-${region}`.slice(0, 40),
    title: `avfleet media: ${region}`,
    tags: ["avfleet", "media", region],
    timezone: "utc",
    schemaVersion: 39,
    editable: false,
    time: { from: "now-6h", to: "now" },
    refresh: "1m",
    templating: {
      list: [
        {
          name: "datasource",
          label: "Prometheus",
          type: "datasource" as const,
          query: "prometheus",
          hide: 0,
        },
      ],
    },
    panels,
  };
  return dashboard satisfies GrafanaDashboard;
}
