/**
 * Which Pulumi backend a command talks to, the fully qualified stack names it takes there, and
 * whether a DIY backend's layout accepts the project-scoped names our StackReferences use.
 *
 * Sources, pulumi/pulumi 1b59498:
 * - the backend URL: PULUMI_BACKEND_URL, else Pulumi.yaml's backend.url, else the one
 *   `pulumi login` stored (pkg/workspace/creds.go GetCurrentCloudURLWithSource, lines 55-77):
 *   `current` of credentials.json in $PULUMI_CREDENTIALS_PATH, else $PULUMI_HOME, else
 *   ~/.pulumi (sdk/go/common/workspace/creds.go getCredsFilePath, lines 325-341);
 * - a DIY backend is a go-cloud bucket URL (pkg/backend/diy/backend.go IsDIYBackendURL,
 *   lines 203-210); `file://~` is the home directory (lines 651-667);
 * - its layout is `.pulumi/meta.yaml`'s version: 0 is the legacy layout without projects, 1
 *   project mode; a bucket without the file that already holds stacks stays legacy, an empty
 *   one becomes 1 unless PULUMI_DIY_BACKEND_LEGACY_LAYOUT is set (pkg/backend/diy/meta.go
 *   pulumiMeta and ensurePulumiMeta, lines 42-112); `pulumi state upgrade` moves a legacy
 *   store to project mode;
 * - in project mode a stack is organization/<project>/<stack>, the organization always the
 *   literal "organization" (pkg/backend/diy/store.go projectReferenceStore.ParseReference,
 *   lines 145-181); the legacy store parses a reference as a bare stack name, which refuses
 *   slashes (store.go legacyReferenceStore.ParseReference, lines 362-368);
 * - on Pulumi Cloud a stack name without an organization resolves in the user's default
 *   organization (`pulumi org get-default`), so a command prints the name it means in full.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import YAML from "yaml";
import { InputError } from "../inputs/problems";

export type BackendKind = "cloud" | "diy";

export interface Backend {
  url: string;
  kind: BackendKind;
  /** Where the URL came from. */
  source: "--backend" | "PULUMI_BACKEND_URL" | "Pulumi.yaml" | "credentials.json";
}

/** Schemes of DIY state stores (go-cloud blob buckets the CLI opens). */
const DIY_SCHEMES = ["file", "s3", "gs", "azblob"];

/** What is wrong with a backend setting: bad input (exit 2). */
export class BackendError extends InputError {
  constructor(message: string) {
    super([message]);
  }
}

export function backendKind(url: string): BackendKind {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === "https" || scheme === "http") return "cloud";
  if (scheme && DIY_SCHEMES.includes(scheme)) return "diy";
  throw new BackendError(
    `backend URL "${url}" is neither Pulumi Cloud (https://…) nor a DIY bucket (${DIY_SCHEMES.map((s) => `${s}://`).join(", ")})`,
  );
}

/** The backend `pulumi login` last chose, as the CLI stores it; undefined when logged out. */
function loggedIn(env: Record<string, string | undefined>): string | undefined {
  const dir = env.PULUMI_CREDENTIALS_PATH || env.PULUMI_HOME || join(homedir(), ".pulumi");
  try {
    const current = JSON.parse(readFileSync(join(dir, "credentials.json"), "utf8"))?.current;
    return typeof current === "string" && current !== "" ? current : undefined;
  } catch {
    // No file, or not JSON: the CLI would say it is not logged in; so do we, by saying nothing.
    return undefined;
  }
}

/** The backend as the CLI would pick it; undefined if no source says. */
export function findBackend(
  flag: string | undefined,
  env: Record<string, string | undefined>,
  projectFile: string,
): Backend | undefined {
  const fromProject = (): string | undefined => {
    if (!existsSync(projectFile)) return undefined;
    const url = (YAML.parse(readFileSync(projectFile, "utf8")) as any)?.backend?.url;
    return typeof url === "string" && url !== "" ? url : undefined;
  };
  const found: [Backend["source"], string | undefined][] = [
    ["--backend", flag],
    ["PULUMI_BACKEND_URL", env.PULUMI_BACKEND_URL || undefined],
    ["Pulumi.yaml", fromProject()],
    ["credentials.json", loggedIn(env)],
  ];
  const [source, url] = found.find(([, u]) => u !== undefined) ?? [];
  if (!source || !url) return undefined;
  try {
    return { url, kind: backendKind(url), source };
  } catch (err) {
    throw new BackendError(`${source}: ${(err as Error).message}`);
  }
}

/** The name a command passes as `--stack` and a StackReference takes. */
export function qualifiedStack(
  backend: Backend,
  project: string,
  stack: string,
  org: string | undefined,
): string {
  if (backend.kind === "diy") return `organization/${project}/${stack}`;
  if (!org) {
    throw new BackendError(
      `on Pulumi Cloud (${backend.url}) a bare stack name resolves in your default organization: give --org (pulumi org get-default shows it)`,
    );
  }
  return `${org}/${project}/${stack}`;
}

/** A DIY store's layout, where it can be read from here. */
export type Layout = { version: 0 | 1; why: string } | { version: "unknown"; why: string };

/** The directory a file:// backend keeps its state in. */
function fileBackendDir(url: string): string {
  const path = decodeURIComponent(url.slice("file://".length).split("?")[0]);
  if (path === "~") return homedir();
  return path.startsWith("~/") ? join(homedir(), path.slice(2)) : resolve(path);
}

/** Reads a DIY store's layout version, as ensurePulumiMeta would decide it. */
export function diyLayout(url: string, env: Record<string, string | undefined>): Layout {
  if (!url.toLowerCase().startsWith("file://")) {
    return {
      version: "unknown",
      why: `a bucket this command cannot read: its .pulumi/meta.yaml says version: 1 in project mode (no file, or version: 0, is the legacy layout)`,
    };
  }
  const root = fileBackendDir(url);
  const meta = join(root, ".pulumi", "meta.yaml");
  if (existsSync(meta)) {
    const version = (YAML.parse(readFileSync(meta, "utf8")) as any)?.version;
    if (version === 0 || version === 1) return { version, why: `${meta} says version: ${version}` };
    throw new BackendError(`${meta}: version is ${JSON.stringify(version)}, expected 0 or 1`);
  }
  const stacks = join(root, ".pulumi", "stacks");
  const legacy = existsSync(stacks)
    ? readdirSync(stacks, { withFileTypes: true }).filter((e) => e.isFile())
    : [];
  if (legacy.length > 0) {
    return {
      version: 0,
      why: `${meta} is missing and ${stacks} holds ${legacy.length} stack file(s) of the legacy layout`,
    };
  }
  return /^(1|true)$/i.test(env.PULUMI_DIY_BACKEND_LEGACY_LAYOUT ?? "")
    ? {
        version: 0,
        why: "an empty store, and PULUMI_DIY_BACKEND_LEGACY_LAYOUT asks for the legacy layout",
      }
    : { version: 1, why: "an empty store: the CLI starts it in project mode" };
}

/** Why a store refuses project-scoped stack names, or undefined if it takes them. */
export function layoutProblem(layout: Layout): string | undefined {
  return layout.version === 0
    ? `the DIY store is in the legacy layout (state version 0: ${layout.why}): it refuses project-scoped names such as organization/avfleet/<stack>, which the traffic splits' StackReferences use. Run \`pulumi state upgrade\` (every CLI that uses the store must be v3.61 or later afterwards)`
    : undefined;
}

/**
 * Why a stack file's `environment:` stops every CLI command for the stack on this backend, or
 * undefined. Any environment, a list of names or an inline definition, is opened before config
 * is read, and a backend other than Pulumi Cloud fails it: "backend … does not support
 * environments" (pulumi/pulumi 1b59498 pkg/cmd/pulumi/config/io.go:238-256 openStackEnv,
 * config_env.go:41-45 errBackendNoEnvironments).
 */
export function environmentProblem(
  file: string,
  document: { environment?: unknown },
  backend: Backend,
): string | undefined {
  if (backend.kind !== "diy" || document.environment == null) return undefined;
  return `${file}: environment: a DIY backend (${backend.url}) does not support Pulumi ESC environments: every pulumi command for this stack would fail ("backend … does not support environments"); move the values into config:, or use Pulumi Cloud`;
}

/** The backend a command works against and how it names stacks there. */
export interface StackNaming {
  backend: Backend;
  /** DIY only. */
  layout?: Layout;
  /** Why the store refuses project-scoped names, if it does. */
  problem?: string;
  qualify(stack: string): string;
}

/**
 * The backend from `--backend`, PULUMI_BACKEND_URL or Pulumi.yaml, checked: bad input (none
 * found, an unknown scheme, Cloud without --org) throws BackendError.
 */
export function stackNaming(
  options: { backend?: string; org?: string },
  env: Record<string, string | undefined>,
  projectFile: string,
  project: string,
): StackNaming {
  const backend = findBackend(options.backend, env, projectFile);
  if (!backend) {
    throw new BackendError(
      "no backend given: pass --backend URL (`pulumi whoami --verbose` prints the one you are logged in to) or set PULUMI_BACKEND_URL",
    );
  }
  if (backend.kind === "diy" && options.org && options.org !== "organization") {
    throw new BackendError(
      `--org is "${options.org}", but a DIY backend's organization is always "organization"`,
    );
  }
  // Checked once here, so that a Cloud backend without --org is refused before anything runs.
  qualifiedStack(backend, project, "(stack)", options.org);
  const layout = backend.kind === "diy" ? diyLayout(backend.url, env) : undefined;
  return {
    backend,
    layout,
    problem: layout && layoutProblem(layout),
    qualify: (stack) => qualifiedStack(backend, project, stack, options.org),
  };
}

/**
 * How the executors (migrate, rollout) name a stack on the CLI. On Pulumi Cloud a bare name
 * resolves in the default organization of whoever runs it, so two operators could move two
 * different stacks: the name goes in full, and --org is required (exit 2 before anything runs
 * without it). On a DIY backend the bare name resolves in this project, and a legacy store
 * refuses the qualified one, so it stays bare; so it does when no backend is known (the CLI
 * will say it is not logged in).
 */
export function executorStackName(
  org: string | undefined,
  env: Record<string, string | undefined>,
  projectFile: string,
  project: string,
): (stack: string) => string {
  const backend = findBackend(undefined, env, projectFile);
  if (backend?.kind !== "cloud") return (stack) => stack;
  qualifiedStack(backend, project, "(stack)", org);
  return (stack) => qualifiedStack(backend, project, stack, org);
}
