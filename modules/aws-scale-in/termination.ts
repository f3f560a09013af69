/**
 * The custom termination policy of every AWS pool: a Lambda function EC2 Auto Scaling invokes at
 * each scale-in with the instances it may terminate, which returns those expected to hold the
 * fewest calls at the drain limit (termination.py, carried as the function's code). This file
 * computes its settings and grants and declares it; the group names its ARN first among its
 * terminationPolicies (modules/fleets/aws.ts), and its service-linked role may invoke it.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as cloudwatch from "@pulumi/aws/cloudwatch";
import * as iam from "@pulumi/aws/iam";
import * as lambda from "@pulumi/aws/lambda";
import * as s3 from "@pulumi/aws/s3";
import type { AwsFleetSpec } from "../config/fleet.schema";
import { autoScalingGroupName } from "../host/agent";
import { awsLeftAtLimitMetric } from "../host/metrics";
// termination.py's CONFIG_ENV; the lifecycle model finds the function by it.
import { TERMINATION_ENV } from "../../policy/contract/rules";

export const TERMINATION_SOURCE = readFileSync(join(__dirname, "termination.py"), "utf8");
export const TERMINATION_HANDLER = "termination.handler";
/** A runtime that includes boto3 (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html). */
export const TERMINATION_RUNTIME = "python3.12";
/**
 * EC2 Auto Scaling gives a custom termination policy two seconds to answer ("The maximum run time
 * for your Lambda function is two seconds", lambda-custom-termination-policy.html, Limitations);
 * Lambda's timeout is whole seconds.
 */
export const TERMINATION_TIMEOUT_SEC = 2;
/**
 * More memory is more CPU in Lambda: a cold start (boto3's import, the clients) and two calls at
 * once fit well inside the 2 s at this size; the few invocations a day cost next to nothing.
 */
export const TERMINATION_MEMORY_MB = 1024;
export const TERMINATION_LOG_RETENTION_DAYS = 14;

/**
 * The code archive's key names its content's hash: the function's s3Key changes with the source,
 * so a new source is an update the Plan shows (the bucket is the pool's payload bucket; hosts may
 * read only its payload prefix).
 */
export const TERMINATION_KEY = `termination/termination-${createHash("sha256")
  .update(TERMINATION_SOURCE)
  .digest("hex")
  .slice(0, 16)}.zip`;

/** The function's name (at most 64 characters): the pool's, so its log group is known before it exists. */
export function terminationFunctionName(spec: AwsFleetSpec): string {
  return `${spec.pool.slice(0, 52)}-termination`;
}

/** What the function reads from its TERMINATION_ENV variable. */
export interface TerminationConfig {
  /** The pool's group: the dimension of every reading, and what DescribeAutoScalingGroups reads. */
  group: string;
  /** Where each host's agent publishes the calls it expects at the drain limit. */
  namespace: string;
  metricName: string;
  /** `autoscaling.maxCutPerHost`: a host expected to hold more (and on the current release) waits. */
  maxCutPerHost: number;
}

export function terminationConfig(spec: AwsFleetSpec): TerminationConfig {
  const metric = awsLeftAtLimitMetric(spec.pool);
  return {
    group: autoScalingGroupName(spec.pool),
    namespace: metric.namespace,
    metricName: metric.name,
    maxCutPerHost: spec.autoscaling.maxCutPerHost,
  };
}

export const LAMBDA_ASSUME_ROLE = {
  Version: "2012-10-17",
  Statement: [
    { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
  ],
};

/**
 * Least privilege: the two reads termination.py makes and its own log stream. Neither read takes
 * a resource or a condition that narrows it: CloudWatch's actions are granted on "*"
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/permissions-reference-cw.html;
 * cloudwatch:namespace conditions PutMetricData only), and Auto Scaling's Describe actions have
 * no resource type
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html).
 * Both only read. Logs: into the function's log group, which the stack creates (no
 * logs:CreateLogGroup).
 */
export function terminationPolicy(logGroupArn: string) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadCallsLeftAtLimit",
        Effect: "Allow",
        Action: "cloudwatch:GetMetricData",
        Resource: "*",
      },
      {
        Sid: "ReadGroupReleases",
        Effect: "Allow",
        Action: "autoscaling:DescribeAutoScalingGroups",
        Resource: "*",
      },
      {
        Sid: "OwnLogs",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: `${logGroupArn}:log-stream:*`,
      },
    ],
  };
}

export interface AwsTerminationArgs {
  spec: AwsFleetSpec;
  region: string;
  /** The account of the pool: its Auto Scaling service-linked role invokes the function. */
  account: pulumi.Input<string>;
  /** The pool's payload bucket: the function's code is an object in it. */
  bucket: s3.Bucket;
  /** The pool's labels, as every resource of the pool carries them. */
  tags: Record<string, string>;
}

/**
 * The account's Auto Scaling service-linked role, which a group given no serviceLinkedRoleArn
 * uses and AWS creates with the account's first group
 * (https://docs.aws.amazon.com/autoscaling/ec2/userguide/autoscaling-service-linked-role.html).
 */
export function autoScalingRoleArn(account: string): string {
  return `arn:aws:iam::${account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`;
}

/** The function, what it runs with, and the group's right to invoke it. */
export class AwsTermination extends pulumi.ComponentResource {
  readonly arn: pulumi.Output<string>;
  /** What the group must wait for: the function exists and its service-linked role may invoke it. */
  readonly invokable: lambda.Permission;

  constructor(name: string, a: AwsTerminationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("avfleet:fleets:AwsTermination", name, { pool: a.spec.pool }, opts);
    const { spec, region, bucket, account, tags } = a;
    const o = { parent: this };
    const functionName = terminationFunctionName(spec);

    const logs = new cloudwatch.LogGroup(
      `${name}-logs`,
      {
        region,
        name: `/aws/lambda/${functionName}`,
        retentionInDays: TERMINATION_LOG_RETENTION_DAYS,
        tags,
      },
      o,
    );
    const role = new iam.Role(
      `${name}-role`,
      { assumeRolePolicy: JSON.stringify(LAMBDA_ASSUME_ROLE), tags },
      o,
    );
    const grant = new iam.RolePolicy(
      `${name}-policy`,
      { role: role.id, policy: logs.arn.apply((arn) => JSON.stringify(terminationPolicy(arn))) },
      o,
    );
    const code = new s3.BucketObjectv2(
      `${name}-code`,
      {
        region,
        bucket: bucket.id,
        key: TERMINATION_KEY,
        source: new pulumi.asset.AssetArchive({
          "termination.py": new pulumi.asset.StringAsset(TERMINATION_SOURCE),
        }),
        tags,
      },
      o,
    );
    const fn = new lambda.Function(
      `${name}-fn`,
      {
        region,
        name: functionName,
        description: `avfleet: the termination order of ${spec.pool}'s scale-in (fewest calls at the drain limit)`,
        role: role.arn,
        runtime: TERMINATION_RUNTIME,
        handler: TERMINATION_HANDLER,
        s3Bucket: bucket.id,
        s3Key: code.key,
        timeout: TERMINATION_TIMEOUT_SEC,
        memorySize: TERMINATION_MEMORY_MB,
        environment: {
          variables: { [TERMINATION_ENV]: JSON.stringify(terminationConfig(spec)) },
        },
        tags,
      },
      { ...o, dependsOn: [grant, logs] },
    );
    // The resource-based policy a custom termination policy needs: lambda:InvokeFunction for the
    // service-linked role, on the unpublished function (the group names its unqualified ARN),
    // before the group names the function, as AWS's procedure has it.
    this.invokable = new lambda.Permission(
      `${name}-invoke`,
      {
        region,
        action: "lambda:InvokeFunction",
        function: fn.name,
        principal: pulumi.output(account).apply(autoScalingRoleArn),
        statementId: "AllowInvokeByAutoScaling",
      },
      o,
    );
    this.arn = fn.arn;
    this.registerOutputs({ arn: this.arn });
  }
}
