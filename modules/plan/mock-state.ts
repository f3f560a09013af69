/**
 * What the mock "provider" returns for a new resource: its inputs plus the computed outputs
 * other resources read (a service account's email, a MIG's instance group, …), shaped as the
 * real provider would, so that interpolated inputs in the Plan look like the real ones.
 */
import { createHash } from "node:crypto";

type State = Record<string, unknown>;

function gcpSelfLink(inputs: State, collection: string, name: string): string {
  const project = inputs.project ?? "project";
  const scope = inputs.region ? `regions/${inputs.region}` : "global";
  return `https://www.googleapis.com/compute/v1/projects/${project}/${scope}/${collection}/${name}`;
}

/**
 * The address the mock gives a GCP `compute.Address` of that logical name: a stable one from
 * TEST-NET-3, which a StackReference to the fleet stack reads too.
 */
export function mockAddress(name: string): string {
  return `203.0.113.${1 + (createHash("sha256").update(name).digest()[0] % 254)}`;
}

const computed: Record<string, (name: string, inputs: State) => State> = {
  "gcp:compute/address:Address": (name) => ({ address: mockAddress(name) }),
  "gcp:serviceaccount/account:Account": (_, i) => ({
    email: `${i.accountId}@${i.project}.iam.gserviceaccount.com`,
  }),
  "gcp:compute/instanceTemplate:InstanceTemplate": (name, i) => {
    const link = gcpSelfLink(i, "instanceTemplates", `${i.namePrefix ?? name}0001`);
    return { selfLink: link, selfLinkUnique: `${link}?uniqueId=1` };
  },
  "gcp:compute/healthCheck:HealthCheck": (name, i) => ({
    selfLink: gcpSelfLink(i, "healthChecks", name),
  }),
  "gcp:compute/regionAutoscaler:RegionAutoscaler": (name, i) => ({ name: i.name ?? name }),
  "gcp:cloudfunctionsv2/function:Function": (name, i) => ({
    name: i.name ?? name,
    url: `https://${i.location}-${i.project}.cloudfunctions.net/${i.name ?? name}`,
  }),
  // The server assigns the channel's number; policies notify it by this name.
  "gcp:monitoring/notificationChannel:NotificationChannel": (name, i) => ({
    name: `projects/${i.project}/notificationChannels/${parseInt(createHash("sha256").update(name).digest("hex").slice(0, 12), 16)}`,
  }),
  "aws:ec2/launchTemplate:LaunchTemplate": () => ({ latestVersion: 1, defaultVersion: 1 }),
  "aws:lambda/function:Function": (name, i) => ({
    arn: `arn:aws:lambda:${i.region ?? "us-east-1"}:${MOCK_ACCOUNT}:function:${i.name ?? name}`,
  }),
  // bucketPrefix and the provider's 26 characters; S3's ARNs name neither region nor account.
  "aws:s3/bucket:Bucket": (name, i) => {
    const bucket = `${i.bucketPrefix ?? ""}${createHash("sha256").update(name).digest("hex").slice(0, 26)}`;
    return { bucket, arn: `arn:aws:s3:::${bucket}` };
  },
  "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": (name, i) => ({
    name: i.name ?? name,
    selfLink: gcpSelfLink(i, "instanceGroupManagers", name),
    instanceGroup: gcpSelfLink(i, "instanceGroups", name),
  }),
};

const MOCK_ACCOUNT = "123456789012";

/** Provider functions (invokes) the programs call, answered as the provider would. */
const calls: Record<string, (inputs: State) => State> = {
  "aws:index/getCallerIdentity:getCallerIdentity": () => ({
    accountId: MOCK_ACCOUNT,
    arn: `arn:aws:iam::${MOCK_ACCOUNT}:user/avfleet-offline`,
    userId: "AIDAOFFLINE",
  }),
  // Offline there is no image to describe: the device name Debian's and Amazon Linux's EC2
  // images use for their root volume (Ubuntu's is /dev/sda1).
  "aws:ec2/getAmi:getAmi": (inputs) => ({
    ...inputs,
    id: (inputs.filters as { values: string[] }[] | undefined)?.[0]?.values[0] ?? "ami-offline",
    rootDeviceName: "/dev/xvda",
  }),
};

export function mockCall(token: string, inputs: State): State {
  return calls[token]?.(inputs) ?? inputs;
}

/** A stable fake id: the same resource gets the same id in every run. */
export function mockId(type: string, name: string): string {
  return `${name}-${createHash("sha256").update(`${type}::${name}`).digest("hex").slice(0, 8)}`;
}

/** AWS resources all have an ARN and, when not given, a provider-generated name. */
function awsDefaults(type: string, name: string, inputs: State): State {
  if (!type.startsWith("aws:")) return {};
  const service = type.split(":")[1].split("/")[0];
  return {
    name: inputs.name ?? name,
    arn: `arn:aws:${service}:${inputs.region ?? "us-east-1"}:${MOCK_ACCOUNT}:${name}`,
  };
}

/**
 * @param stackOutputs what a StackReference to the named stack (`org/project/stack`) reads.
 */
export function mockState(
  type: string,
  name: string,
  inputs: State,
  stackOutputs: (ref: string) => State,
): State {
  if (type === "pulumi:pulumi:StackReference") {
    return { ...inputs, outputs: stackOutputs(String(inputs.name)), secretOutputNames: [] };
  }
  return {
    ...inputs,
    ...awsDefaults(type, name, inputs),
    ...(computed[type]?.(name, inputs) ?? {}),
  };
}
