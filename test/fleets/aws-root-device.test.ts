/**
 * The launch template's root volume mapping is named after the image's own root device: an
 * Ubuntu AMI's is /dev/sda1, and a mapping for /dev/xvda there would add a second volume and
 * leave the root at the image's size. Runs AwsFleet in this process under mocks whose image
 * answers /dev/sda1, as DescribeImages would for Ubuntu.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import type { AwsFleetSpec } from "../../modules/config/fleet.schema";
import { loadStackFile } from "../../modules/stacks/stack";

test("the root volume mapping takes the AMI's root device name (Ubuntu: /dev/sda1)", async () => {
  const templates: Record<string, any>[] = [];
  const invoked: Record<string, any>[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (args.type === "aws:ec2/launchTemplate:LaunchTemplate") templates.push(args.inputs);
        return { id: `${args.name}-id`, state: { ...args.inputs, arn: `arn:${args.name}` } };
      },
      call(args) {
        if (args.token === "aws:ec2/getAmi:getAmi") {
          invoked.push(args.inputs);
          return { ...args.inputs, id: "ami-ubuntu", rootDeviceName: "/dev/sda1" };
        }
        return { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/t", userId: "u" };
      },
    },
    "avfleet",
    "aws-root-device",
    false,
  );
  const { AwsFleet } = await import("../../modules/fleets/aws");
  const { compileAws } = await import("../../modules/scaling/compile");
  const spec = loadStackFile("stacks/Pulumi.aws-us-east-1.yaml").fleet as AwsFleetSpec;
  const fleet = new AwsFleet(spec.pool, {
    spec,
    region: "us-east-1",
    boot: { payload: "#!/bin/sh\n", key: "payload/0", userData: () => "" },
    scaling: compileAws(spec, "us-east-1"),
  });
  await new Promise<void>((resolve) => fleet.urn.apply(() => resolve()));
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(invoked[0]?.filters, [{ name: "image-id", values: [spec.ami] }]);
  assert.equal(templates.length, 1);
  assert.equal(templates[0].blockDeviceMappings[0].deviceName, "/dev/sda1");
});
