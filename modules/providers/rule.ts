/**
 * A provider behaviour that acts on a host or a resource, as the provider documents it: who
 * kills a host, when, after how long, with what signal; what a load balancer does to its
 * connections; which field change replaces a resource. Each rule is written from the
 * provider's own documents or source (never from avfleet's code), carries that source, and
 * has a row in docs/real-path.md (a test holds the two together).
 */
export interface ProviderRule {
  /** Stable id, `<provider>.<thing>.<behaviour>`, also the anchor of its row in real-path.md. */
  id: string;
  /** What the provider does, in one sentence. */
  says: string;
  /** Where it is documented: a URL, or `owner/repo path:line` of the provider's source. */
  source: string;
}

/** The rules a simulation consulted, by id: a scenario cites what it relied on. */
export class Citations {
  readonly used = new Set<string>();
  cite<T>(rule: ProviderRule, value: T): T {
    this.used.add(rule.id);
    return value;
  }
}
