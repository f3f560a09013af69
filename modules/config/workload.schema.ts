/**
 * JSON Schema of a fleet's workload (`avfleet:fleet.workload`): the media server a pool runs,
 * how it is installed (a package, an apt source or an image), and the ports it listens on.
 */
import type { FromSchema } from "json-schema-to-ts";

export const port = (description: string, minimum = 1) =>
  ({ type: "integer", minimum, maximum: 65535, description }) as const;

export const portRangeSchema = {
  type: "object",
  description: "a port range {from, to} inside 1024–65535",
  required: ["from", "to"],
  additionalProperties: false,
  properties: {
    from: port("a port in 1024–65535", 1024),
    to: port("a port in 1024–65535", 1024),
  },
} as const;

const packageSchema = {
  type: "string",
  pattern: "^[a-z0-9][a-z0-9+.-]+$",
  description:
    "the Debian package of the media server, from aptSource or the image's own apt sources",
} as const;

/**
 * The apt repository a package comes from when the image has none of its own (Debian's cloud
 * images have only Debian's): one deb822 source whose Signed-By is this key alone, so the
 * repository signs nothing but its own packages (Debian wiki, DebianRepository/UseThirdParty).
 */
const aptSourceSchema = {
  type: "object",
  description:
    "a mapping {uri, suite, components, key}: the apt repository of the package, when the image has none",
  required: ["uri", "suite", "key"],
  additionalProperties: false,
  properties: {
    uri: {
      type: "string",
      pattern: "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%+-]+)*/?$",
      description: "the repository's base URL, e.g. https://apt.media.example.net/debian",
    },
    suite: {
      type: "string",
      pattern: "^[a-z0-9][a-z0-9._-]*$",
      description: "the suite (distribution), e.g. bookworm",
    },
    components: {
      type: "array",
      minItems: 1,
      uniqueItems: true,
      default: ["main"],
      description: "the components to use, e.g. [main]",
      items: { type: "string", pattern: "^[a-z0-9][a-z0-9_-]*$", description: "a component" },
    },
    key: {
      type: "string",
      pattern:
        "^-----BEGIN PGP PUBLIC KEY BLOCK-----\\n[ -~\\n]+\\n-----END PGP PUBLIC KEY BLOCK-----\\n?$",
      description:
        "the repository's signing key, ASCII-armored as `gpg --armor --export <id>` prints it",
    },
  },
} as const;

/**
 * A fully qualified image name: a registry host (with a dot or a port, or localhost) and a path.
 * Short names are refused: podman resolves them through registries.conf, and in a unit with no
 * terminal its enforcing short-name mode fails the pull rather than ask.
 */
export const IMAGE_NAME_PATTERN =
  "^(localhost|[a-z0-9-]+(\\.[a-z0-9-]+)+)(:[0-9]{1,5})?(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)+$";

/** The media server a pool runs, and how the host agent talks to it. */
export const workloadSchema = {
  type: "object",
  description:
    "a mapping {package | image, version, aptSource, digest, command, adminPort, healthPath, statsPath, drainPath, sessionsPath}",
  required: ["version", "adminPort"],
  additionalProperties: false,
  properties: {
    package: packageSchema,
    aptSource: aptSourceSchema,
    image: {
      type: "string",
      pattern: IMAGE_NAME_PATTERN,
      description:
        "a container image name with its registry and no tag, e.g. us-west1-docker.pkg.dev/media-prod/sfu/avfleet-sfu",
    },
    version: {
      type: "string",
      pattern: "^[A-Za-z0-9_][A-Za-z0-9_.+~:-]{0,127}$",
      description: "the exact package version (e.g. 2.4.1-1), or the image tag (e.g. 2.4.1)",
    },
    digest: {
      type: "string",
      pattern: "^sha256:[a-f0-9]{64}$",
      description: "the image's manifest digest, sha256:<64 hex digits>: the bytes every host runs",
    },
    command: {
      type: "string",
      pattern: "^/[A-Za-z0-9._/-]+( [A-Za-z0-9._/=:,-]+)*$",
      description:
        "the server's command line, an absolute path and plain words; default /usr/bin/<package>",
    },
    adminPort: port("a loopback port in 1024–65535 where the server answers the contract", 1024),
    healthPath: {
      type: "string",
      pattern: "^/[A-Za-z0-9._~/-]*$",
      default: "/healthz",
      description: "GET: 200 while the server takes sessions",
    },
    statsPath: {
      type: "string",
      pattern: "^/[A-Za-z0-9._~/-]*$",
      default: "/stats",
      description: "GET: JSON {sessions, streams, packetsPerSecond}",
    },
    drainPath: {
      type: "string",
      pattern: "^/[A-Za-z0-9._~/-]*$",
      default: "/drain",
      description: "POST: take no new sessions, let the current ones end (idempotent)",
    },
    sessionsPath: {
      type: "string",
      pattern: "^/[A-Za-z0-9._~/-]*$",
      default: "/sessions",
      description:
        "GET ?after=<cursor>: JSON {cursor, lost, records, open}, the session records since the cursor",
    },
  },
  // A workload is a package or an image, never both: say which key is out of place.
  if: { required: ["image"] },
  then: {
    properties: {
      package: { not: {}, description: "no package beside image (a workload is one or the other)" },
      command: { not: {}, description: "no command beside image (the image's entrypoint runs)" },
      aptSource: { not: {}, description: "no aptSource beside image (podman pulls the image)" },
      version: {
        type: "string",
        pattern: "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$",
        description: "an image tag: letters, digits, _ . -, at most 128 characters",
      },
    },
  },
  else: {
    required: ["package"],
    properties: {
      package: { ...packageSchema, description: `${packageSchema.description}, or image` },
      digest: { not: {}, description: "no digest without image (a package has none)" },
      version: {
        type: "string",
        pattern: "^[A-Za-z0-9.+~:-]+$",
        description: "the exact package version to install, e.g. 2.4.1-1",
      },
    },
  },
} as const;

export type PortRange = FromSchema<typeof portRangeSchema>;
export type Workload = FromSchema<typeof workloadSchema>;
