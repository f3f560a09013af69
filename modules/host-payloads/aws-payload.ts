/**
 * Where an AWS pool keeps its hosts' boot payloads (modules/host/boot-stub.ts): pure values the
 * AwsFleet component declares its bucket, object and the hosts' read grant with.
 */
import type { AwsFleetSpec } from "../config/fleet.schema";
import { PAYLOAD_PREFIX } from "../host/boot-stub";

/**
 * The bucket's name prefix (the provider appends 26 characters; S3 names are at most 63, so the
 * prefix at most 37): the pool's name, cut to fit.
 */
export function payloadBucketPrefix(spec: AwsFleetSpec): string {
  return `${spec.pool.slice(0, 31)}-boot-`;
}

/**
 * Explicitly what S3 sets on every bucket created since April 2023: no public ACL, no public
 * policy (https://aws.amazon.com/about-aws/whats-new/2022/12/amazon-s3-automatically-enable-block-public-access-disable-access-control-lists-buckets-april-2023/),
 * declared so that a bucket holding the hosts' agent and configuration never turns public.
 * Encryption needs nothing declared: S3 encrypts every new object with SSE-S3
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingServerSideEncryption.html), which
 * asks the reader for no KMS grant. Versioning stays off: a key names its content's hash, so no
 * object is ever overwritten, and the stub refuses any other content anyway.
 */
export const PAYLOAD_PUBLIC_ACCESS_BLOCK = {
  blockPublicAcls: true,
  blockPublicPolicy: true,
  ignorePublicAcls: true,
  restrictPublicBuckets: true,
};

/**
 * The hosts' one S3 right: GetObject under the payload prefix of their pool's bucket
 * (object ARNs `arn:aws:s3:::<bucket>/<key>`, https://docs.aws.amazon.com/AmazonS3/latest/userguide/security_iam_service-with-iam.html).
 * No ListBucket: a missing key then answers 403 instead of 404, which the stub treats alike.
 */
export function payloadReadPolicy(bucketArn: string) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadBootPayload",
        Effect: "Allow",
        Action: "s3:GetObject",
        Resource: `${bucketArn}/${PAYLOAD_PREFIX}*`,
      },
    ],
  };
}
