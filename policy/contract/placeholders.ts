/**
 * What makes a value plainly a placeholder: it evaluates offline, and breaks (or hits someone
 * else's zone, network or documentation range) on a real `pulumi up`. The pack's
 * no-placeholders policy judges the stack's config strings with it; `avfleet adopt` refuses
 * the same values before it writes an import file.
 */

/** Words that mark a value as not real: AWS's documentation ids end in EXAMPLE. */
const MARKER = /OFFLINE|EXAMPLE|PLACEHOLDER|CHANGEME|REPLACEME/;

/** Names reserved for documentation and tests (RFC 2606, RFC 6761). */
const RESERVED_DOMAIN = /(^|\.)(example\.(com|net|org)|example|test|invalid)\.?$/i;

/** IPv4 documentation ranges (RFC 5737) and the IPv6 one (RFC 3849). */
const DOCUMENTATION_ADDRESS = /^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+(\/\d+)?$|^2001:db8:/i;

/**
 * True when the hex digits of a cloud id hold a made-up run: five digits that count up one
 * by one, side by side or every second or third digit (0123456789abcdef0, 0a1b2c3d4e5f,
 * 0a11b22c33d44e55). A real id, which is random, does so about once in a thousand.
 */
function countsUp(hex: string): boolean {
  const digits = [...hex.toLowerCase()].map((c) => parseInt(c, 16));
  for (let stride = 1; stride <= 3; stride++) {
    for (let start = 0; start + 4 * stride < digits.length; start++) {
      let run = 1;
      while (run < 5 && digits[start + run * stride] === digits[start] + run) run++;
      if (run === 5) return true;
    }
  }
  return false;
}

const CLOUD_ID =
  /^(ami|vpc|subnet|sg|igw|eni)-([0-9a-f]{8,17})$|^(Z[0-9A-Z]{8,31})$|^projects\/[^/]+\/notificationChannels\/([0-9]+)$/;

/** The account ids AWS's documentation uses in its examples. */
const DOCUMENTATION_ACCOUNT = /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(123456789012|111122223333):/;

/** The host an e-mail address, a URL or a host:port names (the value itself otherwise). */
const hostOf = (value: string) =>
  value
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")
    .replace(/^[^@/]*@/, "")
    .split(/[/:?#]/)[0];

/** Why a value is a placeholder, or undefined when it may be real. */
export function placeholderReason(value: string): string | undefined {
  const marker = MARKER.exec(value);
  if (marker) return `carries the marker ${marker[0]}`;
  const id = CLOUD_ID.exec(value);
  if (id && countsUp(id[2] ?? id[3] ?? id[4])) return "is a made-up id (its digits count up)";
  if (DOCUMENTATION_ACCOUNT.test(value)) return "names an AWS documentation account";
  if (RESERVED_DOMAIN.test(value) || RESERVED_DOMAIN.test(hostOf(value)))
    return "is a name reserved for documentation (RFC 2606)";
  if (DOCUMENTATION_ADDRESS.test(value)) return "is a documentation address range (RFC 5737)";
  return undefined;
}
