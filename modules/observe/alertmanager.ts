/**
 * A bare-metal site's Alertmanager configuration: the rules (rules.ts) label every alert
 * `severity: page | ticket`, and the route sends each severity to the receiver the stack
 * declares (avfleet:fleet.alerting.notify). Keys stay in files on the Alertmanager host
 * (`*_file` fields), so the rendered file holds no secret. Fields as Alertmanager 0.25
 * (Debian 12) takes them: https://prometheus.io/docs/alerting/0.25/configuration/.
 */
import { stringify } from "yaml";
import { SEVERITIES, type MetalReceiver, type Severity } from "../config/notify.schema";

export interface AlertmanagerOptions {
  /**
   * How long the first alert of a group waits for others before it is sent (default 30s,
   * Alertmanager's own); a test shortens it.
   */
  groupWait?: string;
}

/** The receiver's name in the file: the pool's, so two sites' pages never share a name. */
export const receiverName = (pool: string, severity: Severity) => `${pool}-${severity}`;

function receiver(name: string, severity: Severity, r: MetalReceiver) {
  return {
    name,
    ...(r.pagerduty
      ? {
          pagerduty_configs: [
            {
              routing_key_file: r.pagerduty.routingKeyFile,
              severity: severity === "page" ? "critical" : "warning",
            },
          ],
        }
      : {}),
    ...(r.webhook
      ? {
          webhook_configs: [
            {
              url: r.webhook.url,
              ...(r.webhook.credentialsFile
                ? {
                    http_config: { authorization: { credentials_file: r.webhook.credentialsFile } },
                  }
                : {}),
            },
          ],
        }
      : {}),
    ...(r.email
      ? {
          email_configs: [
            {
              // one message to every address: Alertmanager parses `to` as an address list
              to: r.email.to.join(", "),
              from: r.email.from,
              smarthost: r.email.smarthost,
              ...(r.email.authUsername ? { auth_username: r.email.authUsername } : {}),
              ...(r.email.authPasswordFile ? { auth_password_file: r.email.authPasswordFile } : {}),
              // e-mail sends no resolution unless told: the other integrations do by default
              send_resolved: true,
            },
          ],
        }
      : {}),
  };
}

/**
 * alertmanager.yml for one site. The root receiver is the page's: an alert that carries no
 * severity (a rule added by hand) is paged rather than dropped.
 */
export function renderAlertmanager(
  pool: string,
  notify: Record<Severity, MetalReceiver>,
  options: AlertmanagerOptions = {},
): string {
  const config = {
    route: {
      receiver: receiverName(pool, "page"),
      group_by: ["alertname", "pool"],
      group_wait: options.groupWait ?? "30s",
      group_interval: "5m",
      repeat_interval: "4h",
      routes: SEVERITIES.map((severity) => ({
        matchers: [`severity="${severity}"`],
        receiver: receiverName(pool, severity),
        // a ticket is read in working hours: once a day is reminder enough
        ...(severity === "ticket" ? { repeat_interval: "24h" } : {}),
      })),
    },
    receivers: SEVERITIES.map((s) => receiver(receiverName(pool, s), s, notify[s])),
    // A pool's burn that pages also crosses its ticket's slower windows: the person paged
    // needs no ticket of the same SLO on top (rules.ts labels both with `slo`). Host alerts
    // carry no `slo`, and a label missing on both sides counts as equal: without `slo=~".+"` a
    // host's page would hold back every host ticket of its pool
    // (https://prometheus.io/docs/alerting/0.25/configuration/#inhibit_rule).
    inhibit_rules: [
      {
        source_matchers: ['severity="page"', 'slo=~".+"'],
        target_matchers: ['severity="ticket"', 'slo=~".+"'],
        equal: ["pool", "slo"],
      },
    ],
  };
  return stringify(config, { lineWidth: 0 });
}
