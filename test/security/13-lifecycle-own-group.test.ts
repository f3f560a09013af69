/**
 * Finding 13: an AWS host can complete lifecycle actions of its siblings: IAM has no instance
 * condition key for CompleteLifecycleAction, only the group's ARN and its tags
 * (docs/real-path.md, "Issue #26"). What the host role holds is therefore held to its own
 * group: no other pool's group (not even one whose name starts with this one's), and no
 * Auto Scaling action beyond heartbeating and completing, and (#28) protecting an instance from
 * scale-in, which IAM narrows no further either.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluateExamples, resource } from "../support/plans";

/** IAM's ARN matching: `*` any run of characters, `?` one, the rest literal. */
function arnMatches(pattern: string, arn: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${re}$`).test(arn);
}

const group = (name: string, account = "123456789012", region = "us-east-1") =>
  `arn:aws:autoscaling:${region}:${account}:autoScalingGroup:0f1e2d3c-aaaa-bbbb-cccc-123456789abc:autoScalingGroupName/${name}`;

test("a host completes and heartbeats lifecycle actions of its own group only", async () => {
  const [plan] = await evaluateExamples("aws-us-east-1");
  const policy = JSON.parse(resource(plan, "aws-use1-policy").inputs.policy);
  const autoscaling = policy.Statement.filter((st: any) =>
    [st.Action].flat().some((a: string) => a.startsWith("autoscaling:")),
  );
  assert.equal(autoscaling.length, 1);
  const [lifecycle] = autoscaling;
  assert.equal(lifecycle.Effect, "Allow");
  assert.deepEqual(lifecycle.Action, [
    "autoscaling:CompleteLifecycleAction",
    "autoscaling:RecordLifecycleActionHeartbeat",
    "autoscaling:SetInstanceProtection",
  ]);
  assert.equal(lifecycle.Condition, undefined);
  assert.equal(arnMatches(lifecycle.Resource, group("aws-use1-media")), true);
  for (const other of [
    group("aws-use1-media-canary"),
    group("aws-euc1-media"),
    group("aws-use1-medi"),
    group("aws-use1-media", "210987654321"),
    group("aws-use1-media", "123456789012", "eu-central-1"),
  ])
    assert.equal(arnMatches(lifecycle.Resource, other), false, other);
  // no statement of the host role names a resource of any kind with a bare `*`, but the two
  // actions that have no resource: PutMetricData (held to the pool's namespace) and ECR's token
  for (const st of policy.Statement.filter((st: any) => st.Resource === "*"))
    assert.ok(
      (st.Action === "cloudwatch:PutMetricData" && st.Condition) ||
        st.Action === "ecr:GetAuthorizationToken",
      JSON.stringify(st),
    );
});
