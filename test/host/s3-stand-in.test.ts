/**
 * The host rehearsal's S3 stand-in holds a GetObject to what S3 and the pool's grant would: the
 * instance role's SigV4 key and session token, a signed x-amz-content-sha256, and only keys under
 * the payload prefix. Driven by Debian's curl, signing as the boot stub does.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { awsStandIns, StandIns } from "../../bench/host/stand-ins";
import { s3StandIn } from "../../bench/host/s3-stand-in";
import { PAYLOAD_PREFIX } from "../../modules/host/boot-stub";
import { missingCommands, prerequisite } from "../support/prerequisites";

const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

test("the S3 stand-in serves payload/ to the role's signed requests and nothing else", async (t) => {
  if (!prerequisite(t, missingCommands("curl"))) return;
  const s = new StandIns("127.0.0.1");
  try {
    const aws = await awsStandIns(s, {
      region: "us-east-1",
      zone: "us-east-1b",
      instanceId: "i-0",
      role: "r",
      group: "g",
      hook: "h",
      launchHook: "l",
      metric: { namespace: "n", name: "m", unit: "Count" },
      // the S3 stand-in reads no CloudWatch right
      policy: { Statement: [] },
    });
    const objects = new Map([
      [`${PAYLOAD_PREFIX}abc`, "payload\n"],
      ["other/abc", "not for hosts\n"],
    ]);
    const endpoint = await s3StandIn(s, {
      objects,
      region: "us-east-1",
      prefix: PAYLOAD_PREFIX,
      credentials: aws.credentials,
    });
    const c = aws.credentials;
    const get = async (key: string, token = c.Token) => {
      const { stdout } = await promisify(execFile)("curl", [
        ...["-s", "-o", "/dev/null", "-w", "%{http_code}"],
        ...[
          "--aws-sigv4",
          "aws:amz:us-east-1:s3",
          "--user",
          `${c.AccessKeyId}:${c.SecretAccessKey}`,
        ],
        ...["-H", `x-amz-security-token: ${token}`, "-H", `x-amz-content-sha256: ${EMPTY}`],
        `${endpoint}/${key}`,
      ]);
      return stdout;
    };
    assert.equal(await get(`${PAYLOAD_PREFIX}abc`), "200");
    assert.deepEqual(s.problems, []);
    // Outside the grant's prefix, and a key the bucket lacks: 403, as S3 answers a role without
    // s3:ListBucket.
    assert.equal(await get("other/abc"), "403");
    assert.equal(await get(`${PAYLOAD_PREFIX}missing`), "403");
    assert.equal(s.count("s3", "GetObject:refused"), 2);
    assert.deepEqual(s.problems, []);
    // Another session token: the signature's credentials are not the role's.
    assert.equal(await get(`${PAYLOAD_PREFIX}abc`, "forged"), "403");
    assert.deepEqual(s.problems, ["s3: X-Amz-Security-Token missing or wrong"]);
  } finally {
    s.close();
  }
});
