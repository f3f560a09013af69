/**
 * A stand-in of S3 GetObject for the host rehearsal's AWS host: its user-data's stub fetches the
 * boot payload through it (modules/host/boot-stub.ts). It serves one bucket, virtual-hosted
 * style (the bucket is the host name's, so the path is the key: GET /<key>,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html), and holds each
 * request to what S3 and the pool's grant would:
 *   - SigV4 in the Authorization header, service s3, signed with the key the IMDS stand-in
 *     handed the instance role, and that role's session token as X-Amz-Security-Token
 *     (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html,
 *     https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html);
 *   - x-amz-content-sha256 present, signed and the hash of the (empty) body, or UNSIGNED-PAYLOAD
 *     ("required for all AWS Signature Version 4 requests",
 *     https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html);
 *   - the role may s3:GetObject only under the payload prefix (modules/host-payloads/aws-payload.ts): any
 *     other key is 403 AccessDenied, and so is a missing one, since the role has no
 *     s3:ListBucket (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
 */
import { createHash } from "node:crypto";
import { sigv4Problem, type StandIns } from "./stand-ins";

export interface S3Object {
  /** What the bucket holds, by key: the rehearsal may swap a payload's bytes under its key. */
  objects: Map<string, string>;
  region: string;
  prefix: string;
  credentials: { AccessKeyId: string; SecretAccessKey: string; Token: string };
}

const EMPTY_SHA256 = createHash("sha256").update("").digest("hex");

/** Serves GetObject; returns the endpoint the stub takes as AVFLEET_S3. */
export function s3StandIn(s: StandIns, bucket: S3Object): Promise<string> {
  return s.serve((req, body, res) => {
    if (req.method !== "GET") return s.problem("s3", `${req.method} ${req.url}`, res, 405);
    const contentSha = String(req.headers["x-amz-content-sha256"] ?? "");
    if (contentSha !== EMPTY_SHA256 && contentSha !== "UNSIGNED-PAYLOAD")
      return s.problem("s3", `x-amz-content-sha256 is ${contentSha || "missing"}`, res);
    if (!/SignedHeaders=[a-z0-9;-]*x-amz-content-sha256/.test(req.headers.authorization ?? ""))
      return s.problem("s3", "x-amz-content-sha256 is not signed", res, 403);
    const bad = sigv4Problem(req, body, bucket.credentials, bucket.region, "s3");
    if (bad) return s.problem("s3", bad, res, 403);
    const key = decodeURIComponent((req.url ?? "/").split("?")[0].slice(1));
    const content = bucket.objects.get(key);
    // The grant's answer, not a malformed request: recorded as refused, as S3 answers it.
    if (!key.startsWith(bucket.prefix) || content === undefined) {
      s.calls.push({ service: "s3", action: "GetObject:refused", at: Date.now(), body: { key } });
      return void res
        .writeHead(403, { "Content-Type": "application/xml" })
        .end("<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>");
    }
    s.calls.push({ service: "s3", action: "GetObject", at: Date.now(), body: { key } });
    res.writeHead(200, { "Content-Type": "binary/octet-stream" }).end(content);
  });
}
