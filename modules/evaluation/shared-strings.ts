/**
 * Long strings sent once per worker. Every host of a bare-metal site carries its class's whole
 * SSH payload (about 95 KB) as an input: sent as JSON, a 20,000-host site was 1.9 GB through
 * the pipe and as many separate copies in the parent. The worker sends each distinct long
 * string once and a reference after that; the parent puts back the one string, shared.
 */

/** Shorter strings are sent as they are: a reference would save little. */
const SHARED_MIN_LENGTH = 1024;

/** The key of a reference; NUL does not occur in the keys of resource inputs. */
const REF = "\u0000avfleet:shared";

type Ref = { [REF]: number };

function isRef(value: object): value is Ref {
  return typeof (value as Ref)[REF] === "number";
}

/** The worker's side: long strings become references, new ones are queued to be sent. */
export class StringSharer {
  private ids = new Map<string, number>();
  private fresh: string[] = [];

  /** `value` with its long strings replaced by references. */
  share(value: unknown): unknown {
    if (typeof value === "string") {
      if (value.length < SHARED_MIN_LENGTH) return value;
      let id = this.ids.get(value);
      if (id === undefined) {
        id = this.ids.size;
        this.ids.set(value, id);
        this.fresh.push(value);
      }
      return { [REF]: id };
    }
    if (Array.isArray(value)) return value.map((v) => this.share(v));
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.share(v);
      return out;
    }
    return value;
  }

  /** The strings shared since the last call, in the order of their ids. */
  take(): string[] {
    const fresh = this.fresh;
    this.fresh = [];
    return fresh;
  }
}

/** The parent's side, one per worker: the strings received so far, by id. */
export class SharedStrings {
  private strings: string[] = [];

  add(strings: string[]): void {
    for (const s of strings) this.strings.push(s);
  }

  /** `value` with every reference replaced by its string (in place). */
  resolve<T>(value: T): T {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = this.resolve(value[i]);
      return value;
    }
    if (value !== null && typeof value === "object") {
      if (isRef(value)) return this.strings[value[REF]] as T;
      const record = value as Record<string, unknown>;
      for (const k of Object.keys(record)) record[k] = this.resolve(record[k]);
    }
    return value;
  }
}
