/**
 * A container workload's image: what the host pulls and runs, and which registry it comes from
 * (for the pull's credentials and the pool's IAM grants). Pure.
 */
import type { FleetSpec } from "../config/fleet.schema";
import type { Workload } from "../config/workload.schema";

export interface ContainerImage {
  /** Registry host and path, no tag: us-west1-docker.pkg.dev/media-prod/sfu/avfleet-sfu. */
  name: string;
  tag: string;
  digest?: string;
  /** What the host pulls and runs: name@digest when pinned (the tag is then only a label). */
  ref: string;
  /** name:tag[@digest], as preview and the bootstrap's marker show it. */
  shown: string;
  /** The registry host[:port], the key of its credentials. */
  registry: string;
  /** How the host's pull authenticates to it. */
  auth: RegistryAuth;
}

/**
 * google: an OAuth token of the VM's service account from the metadata server, as user
 * oauth2accesstoken (Artifact Registry's documented way); ecr: Debian's amazon-ecr-credential-helper
 * with the instance role; none: an anonymous pull.
 */
export type RegistryAuth = "google" | "ecr" | "none";

/** LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE… */
const ARTIFACT_REGISTRY = /^([a-z0-9-]+)-docker\.pkg\.dev\/([a-z0-9.:-]+)\/([a-z0-9._-]+)\/./;
/** ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY (the repository may hold slashes). */
const ECR = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com\/(.+)$/;

export function artifactRegistryRepository(
  name: string,
): { location: string; project: string; repository: string } | undefined {
  const m = ARTIFACT_REGISTRY.exec(name);
  return m ? { location: m[1], project: m[2], repository: m[3] } : undefined;
}

export function ecrRepository(
  name: string,
): { account: string; region: string; repository: string } | undefined {
  const m = ECR.exec(name);
  return m ? { account: m[1], region: m[2], repository: m[3] } : undefined;
}

function registryAuth(kind: FleetSpec["kind"], name: string): RegistryAuth {
  if (kind === "gcp" && artifactRegistryRepository(name)) return "google";
  if (kind === "aws" && ecrRepository(name)) return "ecr";
  return "none";
}

/** The pool's image, or undefined for a package workload. */
export function containerImage(spec: { kind: FleetSpec["kind"]; workload: Workload }) {
  const { image: name, version: tag, digest } = spec.workload;
  if (name === undefined) return undefined;
  const image: ContainerImage = {
    name,
    tag,
    ...(digest ? { digest } : {}),
    ref: digest ? `${name}@${digest}` : `${name}:${tag}`,
    shown: `${name}:${tag}${digest ? `@${digest}` : ""}`,
    registry: name.split("/")[0],
    auth: registryAuth(spec.kind, name),
  };
  return image;
}

/** What preview says the pool runs: a digest by its first 12 hex digits, as podman lists it. */
export function workloadShown(spec: FleetSpec): string {
  const image = containerImage(spec);
  if (image)
    return image.digest ? `${image.name}:${image.tag}@${image.digest.slice(0, 19)}` : image.shown;
  return `${spec.workload.package} ${spec.workload.version}`;
}
