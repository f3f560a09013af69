/**
 * JSON Schema of `avfleet:fleet.alerting`: where a pool's pages and tickets go, one receiver
 * per severity in the terms of the fleet's own platform (an SNS topic, Cloud Monitoring
 * notification channels, an Alertmanager receiver). A receiver's key (a PagerDuty key, a
 * webhook URL that carries its token) is never in the stack file: a cloud receiver reads it
 * from the secret `avfleet:notifyPageSecret` / `avfleet:notifyTicketSecret`, an Alertmanager
 * receiver from a file on the Alertmanager host.
 */
import type { FromSchema } from "json-schema-to-ts";

export const SEVERITIES = ["page", "ticket"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One value per severity. */
export const bySeverity = <T>(of: (severity: Severity) => T): Record<Severity, T> =>
  Object.fromEntries(SEVERITIES.map((s) => [s, of(s)])) as Record<Severity, T>;

/** The secret config key of each severity's receiver. */
export const NOTIFY_SECRET_KEYS = {
  page: "avfleet:notifyPageSecret",
  ticket: "avfleet:notifyTicketSecret",
} as const;

const emails = {
  type: "array",
  description: "a list of at most 10 e-mail addresses",
  minItems: 1,
  maxItems: 10,
  uniqueItems: true,
  items: { type: "string", format: "email", description: "an e-mail address" },
} as const;

const secretFlag = (what: string) =>
  ({
    const: true,
    description: `true: ${what}, read from the secret avfleet:notifyPageSecret (page) or avfleet:notifyTicketSecret (ticket)`,
  }) as const;

/** An absolute path on the Alertmanager host: Alertmanager reads the key there itself. */
const keyFile = (what: string) =>
  ({
    type: "string",
    pattern: "^/[A-Za-z0-9._/-]+$",
    description: `an absolute path on the Alertmanager host of a file holding ${what}`,
  }) as const;

/**
 * AWS: CloudWatch alarm actions are SNS topics in the alarm's region. Either one the team has
 * (topicArn), or one the stack creates with these subscriptions.
 */
export const awsReceiverSchema = {
  type: "object",
  description:
    "a mapping {topicArn} (an existing SNS topic in aws:region) or {email, https} (a topic the stack creates)",
  additionalProperties: false,
  minProperties: 1,
  properties: {
    topicArn: {
      type: "string",
      pattern: "^arn:aws[a-z-]*:sns:[a-z]{2}-[a-z]+-[0-9]:[0-9]{12}:[A-Za-z0-9_-]{1,256}$",
      description: "an SNS topic ARN like arn:aws:sns:us-east-1:123456789012:media-pages",
    },
    email: {
      ...emails,
      description: `${emails.description}, each subscribed to the topic (each confirms once)`,
    },
    https: {
      description:
        "true (an endpoint that confirms its subscription itself, like PagerDuty's CloudWatch integration) or {autoConfirms: false}",
      anyOf: [
        secretFlag(
          "one HTTPS subscription whose endpoint confirms itself (e.g. PagerDuty's CloudWatch integration URL, which carries its key): the up waits up to 5 minutes for it",
        ),
        {
          type: "object",
          description:
            "a mapping {autoConfirms: false}: the endpoint's owner confirms by hand (the SubscribeURL SNS posts to it, valid 3 days); the up does not wait",
          required: ["autoConfirms"],
          additionalProperties: false,
          properties: { autoConfirms: { const: false, description: "false" } },
        },
      ],
    },
  },
  if: { required: ["topicArn"] },
  then: {
    properties: {
      email: { not: {}, description: "no email beside topicArn (subscribe the topic itself)" },
      https: { not: {}, description: "no https beside topicArn (subscribe the topic itself)" },
    },
  },
} as const;

/** GCP: Cloud Monitoring notification channels, an existing one or ones the stack creates. */
export const gcpReceiverSchema = {
  type: "object",
  description:
    "a mapping {channel} (an existing notification channel) or {email, pagerduty | webhook} (channels the stack creates)",
  additionalProperties: false,
  minProperties: 1,
  properties: {
    channel: {
      type: "string",
      // the API names a channel's project by id or by number
      pattern: "^projects/([a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]+)/notificationChannels/[0-9]+$",
      description: "a channel name like projects/media-prod/notificationChannels/123456789",
    },
    email: { ...emails, description: `${emails.description}, one email channel each` },
    pagerduty: secretFlag("a pagerduty channel whose service key"),
    webhook: secretFlag("a webhook_tokenauth channel whose URL (with its token)"),
  },
  allOf: [
    {
      if: { required: ["channel"] },
      then: {
        properties: {
          email: { not: {}, description: "no email beside channel" },
          pagerduty: { not: {}, description: "no pagerduty beside channel" },
          webhook: { not: {}, description: "no webhook beside channel" },
        },
      },
    },
    {
      // one secret per receiver
      if: { required: ["pagerduty"] },
      then: {
        properties: { webhook: { not: {}, description: "no webhook beside pagerduty" } },
      },
    },
  ],
} as const;

/** Bare metal: an Alertmanager receiver beside the site's Prometheus. */
export const metalReceiverSchema = {
  type: "object",
  description: "a mapping {pagerduty, webhook, email}: an Alertmanager receiver",
  additionalProperties: false,
  minProperties: 1,
  properties: {
    pagerduty: {
      type: "object",
      description: "a mapping {routingKeyFile}: PagerDuty Events API v2",
      required: ["routingKeyFile"],
      additionalProperties: false,
      properties: { routingKeyFile: keyFile("the integration's routing key") },
    },
    webhook: {
      type: "object",
      description: "a mapping {url, credentialsFile}",
      required: ["url"],
      additionalProperties: false,
      properties: {
        url: {
          type: "string",
          format: "uri",
          pattern: "^https?://",
          description:
            "the URL Alertmanager posts to (no secret in it: Alertmanager 0.25 reads a webhook URL only from its config)",
        },
        credentialsFile: keyFile("a bearer token sent as Authorization: Bearer"),
      },
    },
    email: {
      type: "object",
      description: "a mapping {to, from, smarthost, authUsername, authPasswordFile}",
      required: ["to", "from", "smarthost"],
      additionalProperties: false,
      properties: {
        to: emails,
        from: { type: "string", format: "email", description: "the sender's address" },
        smarthost: {
          type: "string",
          pattern: "^[A-Za-z0-9.-]+:[0-9]{1,5}$",
          description: "the SMTP server as host:port, e.g. smtp.example.net:587",
        },
        authUsername: { type: "string", minLength: 1, description: "the SMTP login" },
        authPasswordFile: keyFile("the SMTP password"),
      },
    },
  },
} as const;

const alerting = <const R>(receiver: R) =>
  ({
    type: "object",
    description: "a mapping {notify}",
    required: ["notify"],
    additionalProperties: false,
    properties: {
      notify: {
        type: "object",
        description:
          "a mapping {page, ticket}: where page-severity and ticket-severity alerts go, a receiver each",
        required: ["page", "ticket"],
        additionalProperties: false,
        properties: { page: receiver, ticket: receiver },
      },
    },
  }) as const;

export const awsAlertingSchema = alerting(awsReceiverSchema);
export const gcpAlertingSchema = alerting(gcpReceiverSchema);
export const metalAlertingSchema = alerting(metalReceiverSchema);

export type AwsReceiver = FromSchema<typeof awsReceiverSchema>;
export type GcpReceiver = FromSchema<typeof gcpReceiverSchema>;
export type MetalReceiver = FromSchema<typeof metalReceiverSchema>;

/** Whether a cloud receiver reads its severity's secret. */
export function needsSecret(receiver: AwsReceiver | GcpReceiver): boolean {
  return "https" in receiver || "pagerduty" in receiver || "webhook" in receiver;
}
