/**
 * Where a cloud pool's alerts go, as pure definitions PoolAlerting declares: per severity the
 * receiver the stack names (modules/config/notify.schema.ts), either one the team has or the
 * SNS topic / notification channels the stack creates. A receiver's key is never here: the
 * definition says which field takes the severity's secret and the component fills it in.
 */
import type * as aws from "@pulumi/aws";
import type * as gcp from "@pulumi/gcp";
import {
  bySeverity,
  type AwsReceiver,
  type GcpReceiver,
  type Severity,
} from "../config/notify.schema";

export interface AwsTarget {
  /** An existing topic, or the one `topic` declares. */
  topicArn?: string;
  topic?: { role: string; args: aws.sns.TopicArgs };
  /** Subscriptions of the declared topic; `secret`: its endpoint is the severity's secret. */
  subscriptions: {
    role: string;
    args: Omit<aws.sns.TopicSubscriptionArgs, "topic" | "endpoint"> & { endpoint?: string };
    secret?: true;
  }[];
}

/**
 * Per severity, the SNS topic its alarms notify. An HTTPS endpoint (PagerDuty's CloudWatch
 * integration URL) confirms its subscription itself; the provider waits for it and fails the
 * up when it does not (`endpointAutoConfirms`, `confirmationTimeoutInMinutes`: @pulumi/aws
 * 7.48.0 sns.TopicSubscription, https://docs.aws.amazon.com/sns/latest/dg/SendMessageToHttp.prepare.html).
 * An e-mail subscription stays PendingConfirmation until its recipient confirms it
 * (https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html).
 */
export function awsTargets(
  pool: string,
  tags: Record<string, string>,
  notify: Record<Severity, AwsReceiver>,
): Record<Severity, AwsTarget> {
  const target = (severity: Severity): AwsTarget => {
    const receiver = notify[severity];
    if (receiver.topicArn) return { topicArn: receiver.topicArn, subscriptions: [] };
    return {
      topic: {
        role: `${severity}-topic`,
        args: { name: `avfleet-${pool}-${severity}`, tags: { ...tags, severity } },
      },
      subscriptions: [
        ...(receiver.email ?? []).map((endpoint, i) => ({
          role: `${severity}-email-${i}`,
          args: { protocol: "email", endpoint },
        })),
        ...(receiver.https
          ? [
              {
                role: `${severity}-https`,
                // An endpoint that does not confirm itself would fail every up after the
                // wait: its owner confirms it once, and the subscription waits for that.
                args:
                  receiver.https === true
                    ? {
                        protocol: "https",
                        endpointAutoConfirms: true,
                        confirmationTimeoutInMinutes: 5,
                      }
                    : { protocol: "https", endpointAutoConfirms: false },
                secret: true as const,
              },
            ]
          : []),
      ],
    };
  };
  return bySeverity(target);
}

type ChannelArgs = Omit<gcp.monitoring.NotificationChannelArgs, "project">;

export interface GcpTarget {
  /** An existing channel's name, or the channels `channels` declares. */
  channel?: string;
  /**
   * `secret` names where the severity's secret goes: the pagerduty channel's sensitive label
   * `serviceKey` (the API's service_key) or the webhook_tokenauth channel's label `url`.
   */
  channels: { role: string; args: ChannelArgs; secret?: "serviceKey" | "url" }[];
}

/**
 * Per severity, the Cloud Monitoring notification channels its policies notify (types and
 * labels: https://cloud.google.com/monitoring/support/notification-options and
 * projects.notificationChannelDescriptors; email: email_address, pagerduty: service_key,
 * webhook_tokenauth: url).
 */
export function gcpTargets(
  pool: string,
  userLabels: Record<string, string>,
  notify: Record<Severity, GcpReceiver>,
): Record<Severity, GcpTarget> {
  const target = (severity: Severity): GcpTarget => {
    const receiver = notify[severity];
    if (receiver.channel) return { channel: receiver.channel, channels: [] };
    const common = (what: string) => ({
      displayName: `avfleet ${pool} ${severity}s (${what})`,
      userLabels: { ...userLabels, severity },
    });
    return {
      channels: [
        ...(receiver.email ?? []).map((address, i) => ({
          role: `${severity}-email-${i}`,
          args: { ...common(address), type: "email", labels: { email_address: address } },
        })),
        ...(receiver.pagerduty
          ? [
              {
                role: `${severity}-pagerduty`,
                args: { ...common("PagerDuty"), type: "pagerduty" },
                secret: "serviceKey" as const,
              },
            ]
          : []),
        ...(receiver.webhook
          ? [
              {
                role: `${severity}-webhook`,
                args: { ...common("webhook"), type: "webhook_tokenauth" },
                secret: "url" as const,
              },
            ]
          : []),
      ],
    };
  };
  return bySeverity(target);
}
