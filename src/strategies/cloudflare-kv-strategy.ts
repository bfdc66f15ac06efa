import { inject, injectable } from 'tsyringe';
import { SessionConfigError } from '../errors.js';
import { SystemClock } from '../services/clock.js';
import { NanoidGenerator } from '../services/id-generator.js';
import { redactedKey } from '../services/redact.js';
import { parseStoredRecord } from '../services/json.js';
import { Tokens } from '../tokens.js';
import type {
  Clock,
  CloudflareKVStrategyOptions,
  FlashSessionData,
  IdGenerator,
  KVNamespaceLike,
  SessionChanges,
  SessionData,
  StrategyContext
} from '../types.js';
import { applyChanges } from './apply-changes.js';
import { BaseStrategy } from './base-strategy.js';

/** Workers KV refuses an `expirationTtl` below 60 seconds. */
export const KV_MIN_TTL_SECONDS = 60;
/** Workers KV accepts at most one write per second to one key. */
const KV_WRITE_SPACING = 1000;
const DAY_SECONDS = 86_400;

/**
 * Sessions in Cloudflare Workers KV. The namespace binding is read from `event.platform.env` on
 * every request (`options.namespace` names it), so one `handleSession()` serves every isolate.
 *
 * KV is eventually consistent: a write is visible at once in the location that made it and
 * within about a minute elsewhere. Concurrent requests of one session are last-writer-wins.
 *
 * Writes respect KV's limits: TTLs below 60 s are raised to 60 s (the expiry in the signed cookie
 * still ends the session on time), and this isolate writes one key at most once per second. A
 * rolling refresh due within a second of the key's last write is skipped (the record lives that
 * long anyway); a real change waits for its turn rather than fail with KV's 429.
 */
@injectable()
export class CloudflareKVStrategy<Data = SessionData, FlashData = Data> extends BaseStrategy<Data, FlashData> {
  readonly #binding: string;
  readonly #prefix: string;
  /** When this isolate last wrote (or will write) each key, ms; in time order, pruned as it goes. */
  readonly #lastWrite = new Map<string, number>();

  constructor(
    @inject(Tokens.StrategyOptions) options: CloudflareKVStrategyOptions,
    @inject(Tokens.Clock) private readonly clock: Clock = new SystemClock(),
    @inject(Tokens.IdGenerator) private readonly ids: IdGenerator = new NanoidGenerator()
  ) {
    super();
    const { namespace, prefix = 'sess:' } = (options ?? {}) as Partial<CloudflareKVStrategyOptions>;
    if (typeof namespace !== 'string' || namespace === '') {
      throw new SessionConfigError(`handleSession(): the 'cloudflare-kv' adapter needs \`adapter.options.namespace\`, the name of your KV binding, got ${JSON.stringify(namespace)}. For example: adapter: { name: 'cloudflare-kv', options: { namespace: 'SESSIONS' } } with [[kv_namespaces]] binding = "SESSIONS" in wrangler.toml.`);
    }
    if (typeof prefix !== 'string') {
      throw new SessionConfigError(`handleSession(): \`adapter.options.prefix\` must be a string, got ${typeof prefix}. The default is 'sess:'.`);
    }
    this.#binding = namespace;
    this.#prefix = prefix;
  }

  async createData(data: FlashSessionData<Data, FlashData>, expires?: Date, context?: StrategyContext): Promise<string> {
    const kv = this.#namespace(context);
    const id = this.ids.generate();
    await this.#put(kv, this.#prefix + id, JSON.stringify(data), expires, false);
    return id;
  }

  async readData(id: string, context?: StrategyContext): Promise<FlashSessionData<Data, FlashData> | null> {
    const key = this.#prefix + id;
    const text = await this.#namespace(context).get(key, 'text');
    if (text === null) return null;
    return parseStoredRecord(text, `Workers KV key "${redactedKey(this.#prefix, id)}"`) as FlashSessionData<Data, FlashData>;
  }

  /** Only an existing record (checked first: KV has no conditional write, so this is last-writer-wins). */
  async updateData(id: string, data: FlashSessionData<Data, FlashData>, expires?: Date, context?: StrategyContext): Promise<boolean> {
    const kv = this.#namespace(context);
    if ((await kv.get(this.#prefix + id, 'text')) === null) return false;
    await this.#put(kv, this.#prefix + id, JSON.stringify(data), expires, false);
    return true;
  }

  async deleteData(id: string, context?: StrategyContext): Promise<void> {
    const kv = this.#namespace(context);
    const key = this.#prefix + id;
    await this.#turn(key, false);
    await kv.delete(key);
  }

  /** @internal 1.1.3 kept a session's record under its id alone, without a prefix. */
  override async readLegacyData(id: string, context?: StrategyContext): Promise<FlashSessionData<Data, FlashData> | null> {
    const text = await this.#namespace(context).get(id, 'text');
    if (text === null) return null;
    return parseStoredRecord(text, `Workers KV key "${redactedKey('', id)}"`) as FlashSessionData<Data, FlashData>;
  }

  /** @internal See {@link readLegacyData}. */
  override async deleteLegacyData(id: string, context?: StrategyContext): Promise<void> {
    await this.#namespace(context).delete(id);
  }

  /** Read, merge, write: KV has no atomic update, so concurrent requests are last-writer-wins. */
  override async applyChanges(id: string, changes: SessionChanges, expires?: Date, context?: StrategyContext): Promise<boolean> {
    const kv = this.#namespace(context);
    const key = this.#prefix + id;
    if (changes.size === 0 && this.#waitFor(key, Date.now()) > 0) return true;
    const text = await kv.get(key, 'text');
    if (text === null) return false;
    const record = applyChanges(parseStoredRecord(text, `Workers KV key "${redactedKey(this.#prefix, id)}"`), changes);
    await this.#put(kv, key, JSON.stringify(record), expires, changes.size === 0);
    return true;
  }

  #namespace(context: StrategyContext | undefined): KVNamespaceLike {
    const env = (context?.event?.platform as { env?: Record<string, unknown> } | undefined)?.env;
    const kv = env?.[this.#binding] as Partial<KVNamespaceLike> | undefined;
    if (kv && typeof kv.get === 'function' && typeof kv.put === 'function' && typeof kv.delete === 'function') {
      return kv as KVNamespaceLike;
    }
    const where = env === undefined
      ? '`event.platform.env` is not there (is the app built with @sveltejs/adapter-cloudflare? In `vite dev`, the adapter provides it through its platformProxy)'
      : `\`event.platform.env.${this.#binding}\` is ${kv === undefined ? 'missing' : 'not a KV namespace'}`;
    throw new SessionConfigError(`The 'cloudflare-kv' session adapter needs the KV namespace binding "${this.#binding}", but ${where}. Add it to wrangler.toml:\n\n[[kv_namespaces]]\nbinding = "${this.#binding}"\nid = "<your namespace id>"\n\n(or "kv_namespaces": [{ "binding": "${this.#binding}", "id": "..." }] in wrangler.jsonc), and declare it in App.Platform.`);
  }

  /**
   * Milliseconds until `key` may be written again (a second after this isolate last wrote it);
   * 0 or less when it may be written now. KV's limit is in real time, whatever clock the sessions
   * run on.
   */
  #waitFor(key: string, now: number): number {
    const last = this.#lastWrite.get(key);
    return last === undefined ? 0 : last + KV_WRITE_SPACING - now;
  }

  async #put(kv: KVNamespaceLike, key: string, value: string, expires: Date | undefined, refresh: boolean): Promise<void> {
    if (!(await this.#turn(key, refresh))) return;
    const seconds = expires ? Math.ceil((expires.getTime() - this.clock.now()) / 1000) : DAY_SECONDS;
    await kv.put(key, value, { expirationTtl: Math.max(KV_MIN_TTL_SECONDS, seconds) });
  }

  /**
   * Waits until `key` may be written again (a second after this isolate last wrote it) and takes
   * the turn. A rolling `refresh` does not wait: it answers `false` and is skipped. The spacing is
   * measured from when each write really started, so a write that ran late never shortens it.
   */
  async #turn(key: string, refresh: boolean): Promise<boolean> {
    for (;;) {
      const now = Date.now();
      const wait = this.#waitFor(key, now);
      if (wait <= 0) {
        this.#lastWrite.delete(key);
        this.#lastWrite.set(key, now);
        // Kept in time order: forget those from the head that are over a second old.
        for (const [other, time] of this.#lastWrite) {
          if (now - time < KV_WRITE_SPACING) break;
          this.#lastWrite.delete(other);
        }
        return true;
      }
      if (refresh) return false;
      // Another write of this key may take the turn first: then wait again.
      await new Promise((resume) => setTimeout(resume, wait));
    }
  }
}
