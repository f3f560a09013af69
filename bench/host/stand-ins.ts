/**
 * Local stand-ins of what surrounds a cloud host, for the host rehearsal. Each checks every
 * request against the API's documented shape (URL, method, auth header, body fields) and
 * records what does not match; a mismatch is answered the way the API would (4xx).
 *   GCP metadata server  https://cloud.google.com/compute/docs/metadata/querying-metadata;
 *                        guest attributes (PUT from the host): .../manage-guest-attributes
 *   Cloud Monitoring     POST v3/projects/{project}/timeSeries (projects.timeSeries.create)
 *   Compute              regional MIG deleteInstances, get, listManagedInstances; autoscalers.get;
 *                        instances.get, getGuestAttributes (see gcpStandIns)
 *   Cloud Storage        JSON API objects.get / insert (uploadType=media) / delete: the drain
 *                        marks, https://cloud.google.com/storage/docs/json_api/v1/objects
 *   EC2 IMDSv2           PUT latest/api/token; GET latest/meta-data/... with the token
 *   CloudWatch           Query API Action=PutMetricData Version=2010-08-01, SigV4 "monitoring";
 *                        a namespace the instance role's policy does not allow: AccessDenied
 *   Auto Scaling         Query API RecordLifecycleActionHeartbeat / CompleteLifecycleAction,
 *                        Version=2011-01-01, SigV4 "autoscaling"; on a hook with no action
 *                        waiting: 400 ValidationError "No active Lifecycle Action found";
 *                        SetInstanceProtection of this instance (refused in the warm pool)
 */
import { execFile } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ScaleInConfig } from "../../modules/gcp-scale-in/controller";

export interface Recorded {
  service: string;
  action: string;
  at: number;
  body: unknown;
}

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

export class StandIns {
  readonly calls: Recorded[] = [];
  readonly problems: string[] = [];
  private readonly servers: Server[] = [];

  constructor(private readonly address: string) {}

  problem(service: string, what: string, res: ServerResponse, status = 400): void {
    this.problems.push(`${service}: ${what}`);
    res.writeHead(status).end(what);
  }

  async serve(handler: Handler): Promise<string> {
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => handler(req, body, res));
    });
    this.servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, this.address, resolve));
    return `http://${this.address}:${(server.address() as AddressInfo).port}`;
  }

  close(): void {
    for (const s of this.servers) {
      s.closeAllConnections();
      s.close();
    }
  }

  count(service: string, action: string): number {
    return this.calls.filter((c) => c.service === service && c.action === action).length;
  }
}

export interface GcpInstance {
  project: string;
  projectNumber: string;
  region: string;
  zone: string;
  name: string;
  id: string;
  group: string;
  metricType: string;
  /** The host's own address: the host never calls deleteInstances; its controller does. */
  address?: string;
}

/** Another VM of the same MIG: the scale-in controller sees it; no agent runs on it. */
export interface GcpPeer {
  name: string;
  zone: string;
  id: string;
  /** The load its agent last reported (streams, just now); undefined: it reported none. */
  load?: number;
  status?: string;
  items?: Array<{ key: string; value: string }>;
  /** On an instance template the MIG no longer creates VMs from. */
  outdated?: boolean;
  /** Guest attributes its agent wrote: "namespace/key" -> value. */
  guest?: Record<string, string>;
  /** The status the MIG drives it to (ManagedInstance.targetStatus): STOPPED for a standby refill. */
  targetStatus?: string;
}

/** The pool around the VM, for the scale-in controller: its autoscaler and the other VMs. */
export interface GcpPool {
  autoscaler: string;
  recommendedSize: number | undefined;
  peers: GcpPeer[];
  /** Items per listManagedInstances page: small, so paging is exercised. */
  pageSize?: number;
  /** Cloud Storage objects there already (drain marks): "<bucket>/<object>" -> timeCreated. */
  objects?: Record<string, string>;
  /**
   * Errors to answer first: a request whose "<METHOD> <path>" matches `request` gets the next of
   * `statuses` (a JSON error body) until none are left, then the stand-in's own answer.
   */
  faults?: Array<{ request: RegExp; statuses: number[] }>;
}

interface Vm {
  name: string;
  zone: string;
  id: string;
  status: string;
  targetStatus: string;
  template: string;
  metadata: { items: Array<{ key: string; value: string }> };
  /** Guest attributes the VM wrote through its metadata server: "namespace/key" -> value. */
  guest: Map<string, string>;
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/** One pass of the GCP scale-in controller (`python3 main.py`) against the stand-ins: its report. */
export async function scaleInPass(
  config: ScaleInConfig,
  endpoints: Record<string, string>,
): Promise<{
  size: number;
  recommended: number | null;
  marked: string[];
  cordoned: string[];
  deleted: string[];
  /** With a standby pool: the members it admitted this pass. */
  admitted?: string[];
}> {
  const { stdout } = await promisify(execFile)(
    "python3",
    [join(__dirname, "../../modules/gcp-scale-in/controller.py")],
    {
      env: {
        ...process.env,
        PYTHONDONTWRITEBYTECODE: "1",
        AVFLEET_SCALE_IN: JSON.stringify(config),
        AVFLEET_SCALE_IN_ENDPOINTS: JSON.stringify(endpoints),
      },
    },
  );
  return JSON.parse(stdout);
}

/**
 * Metadata server + Cloud Monitoring + Compute on one address, for one VM of a regional MIG
 * (and, with `pool`, its peers and autoscaler):
 *   regionAutoscalers.get, regionInstanceGroupManagers.get / listManagedInstances (POST, no body)
 *   / deleteInstances (the controller's: instance URLs of the group's VMs), instances.get,
 *   instances.getGuestAttributes (queryPath; 404 when nothing is there), timeSeries.create; the
 *   VM's metadata server takes guest attributes (PUT). Cloud Storage objects, any bucket:
 *   get (404 when there is none), insert (media upload; ifGenerationMatch=0 and one exists: 412)
 *   and delete (204; none: 404); the host may only get.
 */
export async function gcpStandIns(s: StandIns, vm: GcpInstance, pool?: GcpPool) {
  const group = `projects/${vm.projectNumber}/regions/${vm.region}/instanceGroupManagers/${vm.group}`;
  const compute = `/compute/v1/projects/${vm.project}`;
  const template = (version: string) =>
    `https://www.googleapis.com${compute}/global/instanceTemplates/${vm.group}-${version}`;
  const vms: Vm[] = [
    {
      name: vm.name,
      zone: vm.zone,
      id: vm.id,
      status: "RUNNING",
      targetStatus: "RUNNING",
      template: template("current"),
      metadata: { items: [{ key: "created-by", value: group }] },
      guest: new Map(),
    },
    ...(pool?.peers ?? []).map((p) => ({
      name: p.name,
      zone: p.zone,
      id: p.id,
      status: p.status ?? "RUNNING",
      targetStatus: p.targetStatus ?? "RUNNING",
      template: template(p.outdated ? "previous" : "current"),
      metadata: { items: [{ key: "created-by", value: group }, ...(p.items ?? [])] },
      // Its agent reports its load in a guest attribute beside the Monitoring gauge.
      guest: new Map(
        Object.entries({
          ...(p.load === undefined
            ? {}
            : { "avfleet/load": `${Math.floor(Date.now() / 1000)} ${p.load}` }),
          ...p.guest,
        }),
      ),
    })),
  ];
  const self = vms[0];
  const token = `ya29.${randomBytes(8).toString("hex")}`;
  const lastPoint = new Map<string, number>();
  /** Cloud Storage objects, "<bucket>/<object>" -> timeCreated. */
  const marks = new Map<string, string>(Object.entries(pool?.objects ?? {}));
  const metadata: Record<string, () => string> = {
    "project/project-id": () => vm.project,
    "instance/id": () => vm.id,
    "instance/name": () => vm.name,
    "instance/zone": () => `projects/${vm.projectNumber}/zones/${vm.zone}`,
    "instance/service-accounts/default/token": () =>
      JSON.stringify({ access_token: token, expires_in: 3599, token_type: "Bearer" }),
  };
  const bearer = (req: IncomingMessage) => req.headers.authorization === `Bearer ${token}`;
  const region = `${compute}/regions/${vm.region}`;
  const pageSize = pool?.pageSize ?? 500;
  /** One page of `items` after `pageToken` (an offset here), as Compute pages. */
  const page = <T>(items: T[], query: URLSearchParams, key: string) => {
    const from = Number(query.get("pageToken") ?? 0);
    const next = from + pageSize < items.length ? { nextPageToken: String(from + pageSize) } : {};
    return { [key]: items.slice(from, from + pageSize), ...next };
  };
  const json = (res: ServerResponse, doc: unknown) =>
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(doc));
  const record = (service: string, action: string, body: unknown) =>
    s.calls.push({ service, action, at: Date.now(), body });

  const url = await s.serve((req, body, res) => {
    const [path, search = ""] = (req.url ?? "").split("?");
    const query = new URLSearchParams(search);
    const fault = pool?.faults?.find(
      (f) => f.statuses.length && f.request.test(`${req.method} ${path}`),
    );
    if (fault) {
      const code = fault.statuses.shift()!;
      record("fault", String(code), { method: req.method, path });
      return void res
        .writeHead(code, { "Content-Type": "application/json" })
        .end(JSON.stringify({ error: { code, message: "injected" } }));
    }
    if (path.startsWith("/computeMetadata/v1/")) {
      if (req.headers["metadata-flavor"] !== "Google")
        return s.problem("metadata", `${path} without Metadata-Flavor: Google`, res, 403);
      const key = path.slice("/computeMetadata/v1/".length);
      const guest = /^instance\/guest-attributes\/([^/]+\/[^/]+)$/.exec(key)?.[1];
      if (guest !== undefined && req.method === "PUT") {
        // The host writes its own attributes, enabled by enable-guest-attributes in metadata.
        self.guest.set(guest, body);
        record("metadata", "guest-attributes.put", { key: guest, value: body });
        return void res.writeHead(200).end();
      }
      if (req.method !== "GET") return s.problem("metadata", `${req.method} ${path}`, res, 405);
      const attr = key.startsWith("instance/attributes/") ? key.split("/")[2] : undefined;
      const value =
        attr !== undefined
          ? self.metadata.items.find((i) => i.key === attr)?.value
          : guest !== undefined
            ? self.guest.get(guest)
            : metadata[key]?.();
      if (value === undefined) return void res.writeHead(404).end("not found");
      res.writeHead(200, { "Metadata-Flavor": "Google" }).end(value);
      return;
    }
    const series = `/v3/projects/${vm.project}/timeSeries`;
    if (path === series) {
      if (req.method !== "POST") return s.problem("monitoring", `${req.method} ${path}`, res, 405);
      if (!bearer(req)) return s.problem("monitoring", "no valid Bearer token", res, 401);
      const doc = JSON.parse(body);
      const ts = doc.timeSeries?.[0];
      const wrong: string[] = [];
      if (doc.timeSeries?.length !== 1) wrong.push("timeSeries must hold one series");
      if (ts?.metric?.type !== vm.metricType) wrong.push(`metric.type ${ts?.metric?.type}`);
      if (ts?.resource?.type !== "gce_instance") wrong.push(`resource.type ${ts?.resource?.type}`);
      const labels = ts?.resource?.labels ?? {};
      const want = { project_id: vm.project, instance_id: vm.id, zone: vm.zone };
      if (JSON.stringify(labels) !== JSON.stringify(want))
        wrong.push(`resource.labels ${JSON.stringify(labels)}`);
      if (ts?.metricKind !== "GAUGE") wrong.push(`metricKind ${ts?.metricKind}`);
      const point = ts?.points?.[0];
      if (ts?.points?.length !== 1) wrong.push("points must hold one point");
      if (!RFC3339.test(point?.interval?.endTime ?? ""))
        wrong.push("interval.endTime not RFC 3339");
      if (!/^\d+$/.test(point?.value?.int64Value ?? ""))
        wrong.push("value.int64Value not an integer string");
      // Cloud Monitoring refuses a point less than 5 s after the last one of a series.
      const last = lastPoint.get(vm.id);
      if (last !== undefined && Date.now() - last < 5000) wrong.push("points less than 5 s apart");
      if (wrong.length) return s.problem("monitoring", wrong.join("; "), res);
      lastPoint.set(vm.id, Date.now());
      record("monitoring", "timeSeries.create", doc);
      return json(res, {});
    }
    const object = /^(\/upload)?\/storage\/v1\/b\/([^/]+)\/o(?:\/([^/]+))?$/.exec(path);
    if (object) {
      if (!bearer(req)) return s.problem("storage", `${path}: no valid Bearer token`, res, 401);
      const [, upload, bucket, encoded] = object;
      const name = upload ? query.get("name") : encoded && decodeURIComponent(encoded);
      if (!name) return s.problem("storage", `${req.method} ${path}: no object name`, res);
      const key = `${bucket}/${name}`;
      const notFound = () =>
        void res
          .writeHead(404, { "Content-Type": "application/json" })
          .end(JSON.stringify({ error: { code: 404, message: "No such object" } }));
      if (req.method === "GET" && !upload) {
        record("storage", "objects.get", { bucket, name });
        const at = marks.get(key);
        if (at === undefined) return notFound();
        return json(res, { kind: "storage#object", bucket, name, timeCreated: at });
      }
      // The hosts' account holds storage.objects.get alone.
      if (req.socket.remoteAddress === vm.address)
        return s.problem("storage", `${req.method} ${name} from the host itself`, res, 403);
      if (req.method === "POST" && upload) {
        if (query.get("uploadType") !== "media")
          return s.problem("storage", `insert: uploadType ${query.get("uploadType")}`, res);
        if (query.get("ifGenerationMatch") === "0" && marks.has(key))
          return void res
            .writeHead(412, { "Content-Type": "application/json" })
            .end(JSON.stringify({ error: { code: 412, message: "Precondition Failed" } }));
        marks.set(key, new Date().toISOString());
        record("storage", "objects.insert", { bucket, name });
        return json(res, { kind: "storage#object", bucket, name, timeCreated: marks.get(key) });
      }
      if (req.method === "DELETE" && !upload) {
        if (!marks.delete(key)) return notFound();
        record("storage", "objects.delete", { bucket, name });
        return void res.writeHead(204).end();
      }
      return s.problem("storage", `${req.method} ${path}`, res, 405);
    }
    if (!path.startsWith("/compute/v1/"))
      return s.problem("gcp", `${req.method} ${path}: no such API`, res, 404);
    if (!bearer(req)) return s.problem("compute", `${path}: no valid Bearer token`, res, 401);
    const instanceUrl = (v: Vm) =>
      `https://www.googleapis.com${compute}/zones/${v.zone}/instances/${v.name}`;
    if (!pool) return s.problem("compute", `${req.method} ${path}: no such API`, res, 404);
    if (path === `${region}/autoscalers/${pool.autoscaler}` && req.method === "GET") {
      record("compute", "autoscalers.get", null);
      return json(res, {
        name: pool.autoscaler,
        target: `https://www.googleapis.com${region}/instanceGroupManagers/${vm.group}`,
        autoscalingPolicy: { mode: "ONLY_SCALE_OUT" },
        ...(pool.recommendedSize === undefined ? {} : { recommendedSize: pool.recommendedSize }),
      });
    }
    const mig = `${region}/instanceGroupManagers/${vm.group}`;
    if (path === mig && req.method === "GET") {
      record("compute", "instanceGroupManagers.get", null);
      return json(res, {
        name: vm.group,
        // "the target number of running instances" (@pulumi/gcp RegionInstanceGroupManager
        // targetSize): a standby member is counted in targetStoppedSize instead.
        targetSize: vms.filter((v) => v.targetStatus === "RUNNING").length,
        versions: [{ name: "primary", instanceTemplate: template("current") }],
      });
    }
    if (path === `${mig}/deleteInstances`) {
      if (req.method !== "POST") return s.problem("compute", `${req.method} ${path}`, res, 405);
      if (req.socket.remoteAddress === vm.address)
        return s.problem("compute", "deleteInstances from the host itself", res, 403);
      const doc = JSON.parse(body);
      const targets = (doc.instances ?? []).map((url: string) =>
        vms.find((v) => url === instanceUrl(v)),
      );
      if (targets.length === 0 || targets.includes(undefined))
        return s.problem(
          "compute",
          `deleteInstances: instances ${JSON.stringify(doc.instances)}`,
          res,
        );
      if (doc.skipInstancesOnValidationError !== true)
        return s.problem("compute", "deleteInstances: skipInstancesOnValidationError unset", res);
      // The MIG deletes them and its targetSize shrinks by as many.
      for (const t of targets) vms.splice(vms.indexOf(t), 1);
      record("compute", "deleteInstances", doc);
      return json(res, { kind: "compute#operation" });
    }
    const guestQuery =
      /^\/compute\/v1\/projects\/[^/]+\/zones\/([^/]+)\/instances\/([^/]+)\/getGuestAttributes$/.exec(
        path,
      );
    if (guestQuery && path.startsWith(compute) && req.method === "GET") {
      const target = vms.find((v) => v.zone === guestQuery[1] && v.name === guestQuery[2]);
      if (!target) return s.problem("compute", `getGuestAttributes: no ${guestQuery[2]}`, res, 404);
      const namespace = (query.get("queryPath") ?? "").replace(/\/$/, "");
      record("compute", "getGuestAttributes", { instance: target.name, namespace });
      const items = [...target.guest]
        .map(([k, value]) => ({ namespace: k.split("/")[0], key: k.split("/")[1], value }))
        .filter((i) => i.namespace === namespace);
      // Nothing under the path: Compute answers 404, with its JSON error body.
      if (items.length === 0)
        return void res
          .writeHead(404, { "Content-Type": "application/json" })
          .end(JSON.stringify({ error: { code: 404, errors: [{ reason: "notFound" }] } }));
      return json(res, {
        kind: "compute#guestAttributes",
        queryPath: query.get("queryPath"),
        queryValue: { items },
      });
    }
    if (path === `${mig}/listManagedInstances`) {
      if (req.method !== "POST") return s.problem("compute", `${req.method} ${path}`, res, 405);
      if (body !== "") return s.problem("compute", "listManagedInstances takes no body", res);
      record("compute", "listManagedInstances", Object.fromEntries(query));
      const managed = vms.map((v) => ({
        instance: instanceUrl(v),
        id: v.id,
        instanceStatus: v.status,
        // Compute v1 ManagedInstance.targetStatus: RUNNING, STOPPED, SUSPENDED, ABANDONED, DELETED.
        targetStatus: v.targetStatus,
        currentAction: "NONE",
        version: { instanceTemplate: v.template },
      }));
      return json(res, page(managed, query, "managedInstances"));
    }
    const instanceGet = /^\/compute\/v1\/projects\/[^/]+\/zones\/([^/]+)\/instances\/([^/]+)$/.exec(
      path,
    );
    if (instanceGet && path.startsWith(compute) && req.method === "GET") {
      record("compute", "instances.get", { instance: instanceGet[2] });
      const v = vms.find((v) => v.zone === instanceGet[1] && v.name === instanceGet[2]);
      if (!v)
        return void res
          .writeHead(404, { "Content-Type": "application/json" })
          .end(JSON.stringify({ error: { code: 404, errors: [{ reason: "notFound" }] } }));
      return json(res, {
        name: v.name,
        zone: v.zone,
        id: v.id,
        status: v.status,
        selfLink: instanceUrl(v),
        metadata: { kind: "compute#metadata", ...v.metadata },
      });
    }
    s.problem("gcp", `${req.method} ${path}: no such API`, res, 404);
  });
  return {
    endpoints: { metadata: url, monitoring: url, compute: url, storage: url },
    /** The MIG's VMs now (a host the controller deleted is gone). */
    vms: () => vms.map((v) => ({ name: v.name, items: v.metadata.items })),
    /** The Cloud Storage objects now: "<bucket>/<object>" -> timeCreated. */
    objects: () => new Map(marks),
    /** The MIG drives a VM to another status: a standby member it starts is RUNNING. */
    setTarget: (vm: string, targetStatus: string, status?: string) => {
      const v = vms.find((v) => v.name === vm)!;
      v.targetStatus = targetStatus;
      if (status) v.status = status;
    },
    /** Writes a VM's guest attribute ("namespace/key"), as its agent would. */
    setGuest: (vm: string, key: string, value: string) =>
      vms.find((v) => v.name === vm)!.guest.set(key, value),
  };
}

export interface AwsInstance {
  region: string;
  zone: string;
  instanceId: string;
  role: string;
  group: string;
  /** The termination (drain) hook. */
  hook: string;
  /** The launching hook. */
  launchHook: string;
  metric: { namespace: string; name: string; unit: string };
  /** The instance role's policy (modules/fleets/aws-args.ts hostPolicy), as IAM evaluates it. */
  policy: { Statement: { Effect: string; Action: string | string[]; Condition?: unknown }[] };
}

/** One datum of a PutMetricData call the stand-in took. */
export interface PublishedDatum {
  at: number;
  namespace: string;
  name: string;
  unit: string | null;
  value: number;
  dimensions: Record<string, string>;
}

/**
 * Whether the role may PutMetricData in `namespace`: an Allow statement for the action whose
 * condition, if any, is StringEquals on cloudwatch:namespace
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html).
 */
export function mayPutMetricData(policy: AwsInstance["policy"], namespace: string): boolean {
  return policy.Statement.some((st) => {
    const actions = [st.Action].flat();
    if (st.Effect !== "Allow" || !actions.includes("cloudwatch:PutMetricData")) return false;
    if (st.Condition === undefined) return true;
    const allowed = (st.Condition as { StringEquals?: Record<string, string | string[]> })
      .StringEquals?.["cloudwatch:namespace"];
    return allowed !== undefined && [allowed].flat().includes(namespace);
  });
}

/**
 * Whether the role may call this Auto Scaling action: an Allow statement that lists it (the
 * group's ARN as its resource is the security test's to hold, not the stand-in's).
 */
export function mayCallAutoScaling(policy: AwsInstance["policy"], action: string): boolean {
  return policy.Statement.some(
    (st) => st.Effect === "Allow" && [st.Action].flat().includes(`autoscaling:${action}`),
  );
}

/**
 * The MetricData members of a Query API PutMetricData, and what breaks the documented limits
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html):
 * at most 1000 metrics a request, 1 MB a POST, 30 dimensions a metric, a finite Value.
 */
function metricData(p: URLSearchParams, body: string) {
  const members = new Map<number, Omit<PublishedDatum, "at" | "namespace">>();
  const wrong: string[] = [];
  for (const [key, value] of p) {
    const m = /^MetricData\.member\.(\d+)\.(.+)$/.exec(key);
    if (!m) continue;
    const d = members.get(Number(m[1])) ?? { name: "", unit: null, value: NaN, dimensions: {} };
    members.set(Number(m[1]), d);
    const dim = /^Dimensions\.member\.(\d+)\.(Name|Value)$/.exec(m[2]);
    if (m[2] === "MetricName") d.name = value;
    else if (m[2] === "Unit") d.unit = value;
    else if (m[2] === "Value") d.value = value.trim() ? Number(value) : NaN;
    else if (dim) {
      const name = p.get(`MetricData.member.${m[1]}.Dimensions.member.${dim[1]}.Name`);
      const val = p.get(`MetricData.member.${m[1]}.Dimensions.member.${dim[1]}.Value`);
      if (name === null || val === null) wrong.push(`${key} without its pair`);
      else d.dimensions[name] = val;
    } else wrong.push(`unexpected ${key}`);
  }
  const data = [...members.entries()].sort(([a], [b]) => a - b);
  if (data.some(([n], i) => n !== i + 1)) wrong.push("MetricData members not numbered 1..n");
  if (data.length === 0 || data.length > 1000) wrong.push(`${data.length} metrics, not 1-1000`);
  if (Buffer.byteLength(body) > 1024 * 1024) wrong.push("request over 1 MB");
  for (const [n, d] of data) {
    if (!d.name) wrong.push(`MetricData.member.${n}.MetricName missing`);
    if (!Number.isFinite(d.value)) wrong.push(`MetricData.member.${n}.Value not a number`);
    if (Object.keys(d.dimensions).length > 30)
      wrong.push(`MetricData.member.${n}: over 30 dimensions`);
  }
  return { data: data.map(([, d]) => d), wrong };
}

const hmac = (key: Buffer | string, data: string) =>
  createHmac("sha256", key).update(data).digest();
const sha256hex = (data: string) => createHash("sha256").update(data).digest("hex");

/** Checks an AWS Signature Version 4 header against the secret the stand-in IMDS handed out. */
export function sigv4Problem(
  req: IncomingMessage,
  body: string,
  creds: { AccessKeyId: string; SecretAccessKey: string; Token: string },
  region: string,
  service: string,
): string | undefined {
  const auth = req.headers.authorization ?? "";
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) return `Authorization is not SigV4: ${auth}`;
  const [, akid, date, reg, svc, signed, signature] = m;
  if (akid !== creds.AccessKeyId) return `signed with ${akid}, not the instance role's key`;
  if (reg !== region || svc !== service)
    return `credential scope ${reg}/${svc}, expected ${region}/${service}`;
  if (req.headers["x-amz-security-token"] !== creds.Token)
    return "X-Amz-Security-Token missing or wrong";
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  if (!amzDate.startsWith(date)) return "X-Amz-Date does not match the credential date";
  const names = signed.split(";");
  if (!names.includes("host") || !names.includes("x-amz-date"))
    return "host and x-amz-date must be signed";
  const canonical = [
    req.method,
    (req.url ?? "/").split("?")[0],
    (req.url ?? "").split("?")[1] ?? "",
    names.map((n) => `${n}:${String(req.headers[n] ?? "").trim()}\n`).join(""),
    signed,
    sha256hex(body),
  ].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256hex(canonical)].join("\n");
  let key = hmac(`AWS4${creds.SecretAccessKey}`, date);
  for (const part of [region, service, "aws4_request"]) key = hmac(key, part);
  return hmac(key, toSign).toString("hex") === signature ? undefined : "signature does not verify";
}

/** IMDSv2 + CloudWatch + Auto Scaling, each on its own port. */
export async function awsStandIns(s: StandIns, vm: AwsInstance) {
  let lifecycle = "InService";
  // Hooks whose lifecycle action waits for this instance (Pending:Wait, Terminating:Wait).
  const waiting = new Set<string>();
  let drainHookActiveAt: number | undefined;
  // The group's default for a new instance (protectFromScaleIn unset): not protected.
  let protectedFromScaleIn = false;
  const tokens = new Set<string>();
  const creds = {
    Code: "Success",
    AccessKeyId: `ASIA${randomBytes(8).toString("hex").toUpperCase()}`,
    SecretAccessKey: randomBytes(20).toString("base64"),
    Token: randomBytes(24).toString("base64"),
    Expiration: new Date(Date.now() + 6 * 3600_000).toISOString(),
  };
  const meta: Record<string, () => string> = {
    "instance-id": () => vm.instanceId,
    "placement/region": () => vm.region,
    "placement/availability-zone": () => vm.zone,
    "iam/security-credentials/": () => vm.role,
    [`iam/security-credentials/${vm.role}`]: () => JSON.stringify(creds),
    "autoscaling/target-lifecycle-state": () => lifecycle,
  };
  const imds = await s.serve((req, _body, res) => {
    const path = req.url ?? "";
    if (path === "/latest/api/token") {
      if (req.method !== "PUT") return s.problem("imds", `${req.method} ${path}`, res, 405);
      const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
      if (!(ttl >= 1 && ttl <= 21600))
        return s.problem("imds", "token TTL header missing or out of 1-21600", res);
      const token = randomBytes(16).toString("base64");
      tokens.add(token);
      return void res.writeHead(200).end(token);
    }
    if (!path.startsWith("/latest/meta-data/"))
      return s.problem("imds", `no such path ${path}`, res, 404);
    if (!tokens.has(String(req.headers["x-aws-ec2-metadata-token"])))
      return s.problem("imds", `${path} without an IMDSv2 token`, res, 401);
    const value = meta[path.slice("/latest/meta-data/".length)]?.();
    if (value === undefined) return void res.writeHead(404).end();
    res.writeHead(200).end(value);
  });
  const query = (
    service: "monitoring" | "autoscaling",
    check: (p: URLSearchParams) => string[],
    refuse: (p: URLSearchParams) => string | undefined = () => undefined,
    deny: (p: URLSearchParams) => string | undefined = () => undefined,
    took: (p: URLSearchParams) => void = () => {},
  ) =>
    s.serve((req, body, res) => {
      if (req.method !== "POST" || (req.url ?? "") !== "/")
        return s.problem(service, `${req.method} ${req.url}`, res, 405);
      if (!String(req.headers["content-type"]).startsWith("application/x-www-form-urlencoded"))
        return s.problem(service, "Content-Type must be application/x-www-form-urlencoded", res);
      const bad = sigv4Problem(req, body, creds, vm.region, service);
      if (bad) return s.problem(service, bad, res, 403);
      const params = new URLSearchParams(body);
      const wrong = check(params);
      if (wrong.length)
        return s.problem(service, `${params.get("Action")}: ${wrong.join("; ")}`, res);
      const answer = (status: number, type: string, code: string, message: string) =>
        void res
          .writeHead(status, { "Content-Type": "text/xml" })
          .end(
            `<ErrorResponse><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error></ErrorResponse>`,
          );
      const record = (suffix: string) =>
        s.calls.push({
          service,
          action: `${params.get("Action")}${suffix}`,
          at: Date.now(),
          body: Object.fromEntries(params),
        });
      // IAM decides before the service looks at the request: AccessDenied, as AWS's common
      // errors name it (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CommonErrors.html).
      const denied = deny(params);
      if (denied) {
        record(":denied");
        return answer(403, "Sender", "AccessDenied", denied);
      }
      const refused = refuse(params);
      if (refused) {
        record(":refused");
        return answer(400, "Sender", "ValidationError", refused);
      }
      record("");
      took(params);
      res.writeHead(200, { "Content-Type": "text/xml" }).end(`<${params.get("Action")}Response/>`);
    });
  const expect = (p: URLSearchParams, want: Record<string, string>) =>
    Object.entries(want)
      .filter(([k, v]) => p.get(k) !== v)
      .map(([k, v]) => `${k}=${p.get(k)}, expected ${v}`);
  const published: PublishedDatum[] = [];
  const monitoring = await query(
    "monitoring",
    (p) => {
      const { data, wrong } = metricData(p, p.toString());
      // The load gauge target tracking reads: one integer per host, by its group.
      const load = data.filter((d) => d.name === vm.metric.name);
      return [
        // A warm pool host's 0 streams would drag the group's average down.
        ...(lifecycle.startsWith("Warmed:") ? [`published while ${lifecycle}`] : []),
        ...expect(p, { Action: "PutMetricData", Version: "2010-08-01" }),
        ...(p.get("Namespace") ? [] : ["Namespace missing"]),
        ...wrong,
        ...load.flatMap((d) =>
          d.unit === vm.metric.unit &&
          Number.isInteger(d.value) &&
          JSON.stringify(d.dimensions) === JSON.stringify({ AutoScalingGroupName: vm.group })
            ? []
            : [`${vm.metric.name}: ${JSON.stringify(d)}`],
        ),
      ];
    },
    undefined,
    (p) =>
      mayPutMetricData(vm.policy, p.get("Namespace")!)
        ? undefined
        : `User: arn:aws:sts::123456789012:assumed-role/${vm.role}/${vm.instanceId} is not authorized to perform: cloudwatch:PutMetricData`,
    (p) =>
      published.push(
        ...metricData(p, "").data.map((d) => ({
          ...d,
          at: Date.now(),
          namespace: p.get("Namespace")!,
        })),
      ),
  );
  const autoscaling = await query(
    "autoscaling",
    (p) => {
      const action = p.get("Action");
      const hook = p.get("LifecycleHookName");
      const common = {
        Version: "2011-01-01",
        AutoScalingGroupName: vm.group,
        InstanceId: vm.instanceId,
      };
      if (action === "SetInstanceProtection") {
        const { InstanceId: _, ...group } = common;
        const flag = p.get("ProtectedFromScaleIn");
        return [
          ...expect(p, { ...group, "InstanceIds.member.1": vm.instanceId }),
          ...(p.has("InstanceIds.member.2") ? ["another instance than its own"] : []),
          ...(flag === "true" || flag === "false" ? [] : [`ProtectedFromScaleIn=${flag}`]),
        ];
      }
      const wrong = hook === vm.hook || hook === vm.launchHook ? [] : [`LifecycleHookName=${hook}`];
      if (action === "RecordLifecycleActionHeartbeat") return [...wrong, ...expect(p, common)];
      if (action === "CompleteLifecycleAction")
        return [...wrong, ...expect(p, { ...common, LifecycleActionResult: "CONTINUE" })];
      return [`unexpected Action ${action}`];
    },
    (p) => {
      if (p.get("Action") === "SetInstanceProtection") {
        // https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_SetInstanceProtection.html
        if (lifecycle.startsWith("Warmed:"))
          return `The instance ${vm.instanceId} is in a warm pool`;
        protectedFromScaleIn = p.get("ProtectedFromScaleIn") === "true";
        return undefined;
      }
      const hook = p.get("LifecycleHookName")!;
      if (!waiting.has(hook))
        return `No active Lifecycle Action found with instance ID ${vm.instanceId}`;
      if (p.get("Action") === "CompleteLifecycleAction") waiting.delete(hook);
      return undefined;
    },
    (p) =>
      mayCallAutoScaling(vm.policy, p.get("Action")!)
        ? undefined
        : `User: arn:aws:sts::123456789012:assumed-role/${vm.role}/${vm.instanceId} is not authorized to perform: autoscaling:${p.get("Action")}`,
  );
  return {
    endpoints: { imds, monitoring: `${monitoring}/`, autoscaling: `${autoscaling}/` },
    /** The instance role's credentials IMDS hands out (the S3 stand-in checks them too). */
    credentials: creds,
    /**
     * A scale-in: IMDS reads Terminated at once, but the drain hook's action waits only once the
     * instance has left its load balancer, `deregisterMs` later; until then Auto Scaling answers
     * "No active Lifecycle Action" on it. `onActive` runs as it becomes active.
     */
    terminate: (deregisterMs = 0, onActive: () => void = () => {}) => {
      lifecycle = "Terminated";
      setTimeout(() => {
        waiting.add(vm.hook);
        drainHookActiveAt = Date.now();
        onActive();
      }, deregisterMs);
    },
    /** When the drain hook's action began to wait (undefined: not yet). */
    drainHookActiveAt: () => drainHookActiveAt,
    /** A launch (into the warm pool: Warmed:Stopped; out of it: InService) waits on the hook. */
    launch: (target: string) => {
      lifecycle = target;
      waiting.add(vm.launchHook);
    },
    /** Hooks still waiting for this instance. */
    waiting: () => [...waiting],
    /** Whether the instance is protected from scale-in now. */
    protectedFromScaleIn: () => protectedFromScaleIn,
    /** Every datum CloudWatch took, in order. */
    published: () => [...published],
  };
}
