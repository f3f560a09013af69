/**
 * An AWS host's boot payload is an S3 object its pool declares, and its user-data only the stub
 * that fetches it: AWS caps user-data at 16 KB before base64
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html), and the bootstrap with its
 * agent outgrew it. Pure renders; modules/fleets declares the bucket and the object.
 */
/** The keys the pool's payloads live under: the one prefix its hosts may read. */
export const PAYLOAD_PREFIX = "payload/";

/**
 * A payload's key names its content's sha256: a new payload is a new object and never overwrites
 * the one hosts of an older launch template version (warm pool, a rollout in progress) fetch.
 */
export function payloadKey(sha: string): string {
  return `${PAYLOAD_PREFIX}${sha}`;
}

/** The sha256 of an empty body: S3 wants the payload's hash in x-amz-content-sha256. */
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** How many times the stub asks before the boot fails (then the launching hook abandons it). */
const FETCH_TRIES = 6;
/** curl's limits: each IMDS call, and the object's download. */
const IMDS_TIMEOUT_SEC = 5;
const GET_TIMEOUT_SEC = 30;
/** The waits between tries: 2, 4, 8, 16, 32 s. */
const waits = Array.from({ length: FETCH_TRIES - 1 }, (_, i) => 2 ** (i + 1));

/**
 * The longest the stub can take before it gives up: every try's four IMDS calls and download
 * timing out, and the waits. The launching hook's timeout counts it (units.ts launchSeconds): a
 * hook shorter than the stub's own retries abandoned a host whose role policy was still
 * propagating (a reviewer of the rendered pool found 300 s against about 15 minutes).
 */
export const STUB_FETCH_SECONDS =
  FETCH_TRIES * (4 * IMDS_TIMEOUT_SEC + GET_TIMEOUT_SEC) + waits.reduce((a, b) => a + b, 0);

/**
 * The stub cloud-init runs at every boot: it runs the payload the user-data pins by sha256,
 * fetching it first when the host does not have it yet (a stopped and started warm pool host
 * does). Each try takes a fresh IMDSv2 token and the instance role's credentials
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html),
 * then GETs the object with curl's SigV4 signing (`--aws-sigv4`, curl ≥ 7.75.0; Debian 12 has
 * 7.88.1, which signs the x-amz-* headers it is given), the session token as X-Amz-Security-Token
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html) and
 * x-amz-content-sha256, which S3 requires on every SigV4 request
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html). The keys go
 * to curl on stdin (`-K -`), never on a command line other users can read. Python 3 reads the
 * credentials' JSON: cloud-init itself is Python, so every image that runs this has it. An
 * object whose sha256 is not the pinned one is refused at once: asking again would not change
 * it. The payload is kept at `installAt`, where the next boot finds it. AVFLEET_IMDS and
 * AVFLEET_S3 point the host rehearsal at its stand-ins.
 */
export function bootStub(bucket: string, sha: string, installAt: string): string {
  return [
    "#!/bin/sh",
    `# avfleet-boot-stub: runs the payload s3://${bucket}/${payloadKey(sha)} (modules/host/boot-stub.ts).`,
    "set -u",
    `SHA=${sha}`,
    `B="\${AVFLEET_ROOT:-}${installAt}"`,
    "IMDS=${AVFLEET_IMDS:-http://169.254.169.254}",
    'mkdir -p "$(dirname "$B")"',
    'sum() { sha256sum "$1" 2>/dev/null | cut -d" " -f1; }',
    `m() { curl -sf -m ${IMDS_TIMEOUT_SEC} -H "X-aws-ec2-metadata-token: $T" "$IMDS/latest/meta-data/$1"; }`,
    "fetch() {",
    `  T=$(curl -sf -m ${IMDS_TIMEOUT_SEC} -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$IMDS/latest/api/token") &&`,
    '  R=$(m placement/region) && N=$(m iam/security-credentials/) && C=$(m "iam/security-credentials/$N") || return 1',
    `  printf '%s' "$C" | python3 -c 'import json,sys; c=json.load(sys.stdin); print("user = \\"%s:%s\\"\\nheader = \\"x-amz-security-token: %s\\"" % (c["AccessKeyId"], c["SecretAccessKey"], c["Token"]))' |`,
    `    curl -sf -m ${GET_TIMEOUT_SEC} -K - --aws-sigv4 "aws:amz:$R:s3" -H 'x-amz-content-sha256: ${EMPTY_SHA256}' \\`,
    `      -o "$B.avfleet-new" "\${AVFLEET_S3:-https://${bucket}.s3.$R.amazonaws.com}/${payloadKey("$SHA")}"`,
    "}",
    "n=0",
    'until [ "$(sum "$B")" = "$SHA" ]; do',
    "  n=$((n + 1))",
    "  if fetch; then",
    '    if [ "$(sum "$B.avfleet-new")" != "$SHA" ]; then',
    '      echo "avfleet-boot-stub: refused the payload: its sha256 is $(sum "$B.avfleet-new"), the user-data pins $SHA" >&2',
    '      rm -f "$B.avfleet-new"',
    "      exit 1",
    "    fi",
    '    chmod 0755 "$B.avfleet-new" && mv -f "$B.avfleet-new" "$B"',
    `  elif [ $n -ge ${FETCH_TRIES} ]; then`,
    `    echo "avfleet-boot-stub: no payload after ${FETCH_TRIES} tries" >&2`,
    "    exit 1",
    "  else",
    "    sleep $((1 << n))",
    "  fi",
    "done",
    'exec "$B"',
    "",
  ].join("\n");
}
