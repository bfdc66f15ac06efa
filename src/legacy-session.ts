import { isForbiddenKey } from './services/json.js';
import type { FlashSessionData, SessionData } from './types.js';

const flashKey = (name: string) => `__flash_${name}__`;

/**
 * 1.1.3's `Session`: one session's values in memory, with flash values under `__flash_<name>__`.
 * `event.locals.session` is a {@link SessionStorage}, not this; the class is kept, with 1.1.3's
 * behaviour, so that code importing it still compiles and runs. Keys that would reach object
 * prototypes (`__proto__`, `constructor`, `prototype`) are ignored.
 * @deprecated Use `event.locals.session`.
 */
export class Session<Data = SessionData, FlashData = Data> {
  readonly #id: string;
  readonly #data = new Map<string, unknown>();

  constructor(initialData: Partial<Data> = {}, id = '') {
    this.#id = id;
    for (const [key, value] of Object.entries(initialData ?? {})) {
      if (!isForbiddenKey(key)) this.#data.set(key, value);
    }
  }

  /** The id given to the constructor (`''` by default). */
  get id(): string {
    return this.#id;
  }

  /** The values as stored: flash values under `__flash_<name>__`. */
  get data(): FlashSessionData<Data, FlashData> {
    return Object.fromEntries(this.#data) as FlashSessionData<Data, FlashData>;
  }

  has(name: (keyof Data | keyof FlashData) | string): boolean {
    return this.#data.has(String(name)) || this.#data.has(flashKey(String(name)));
  }

  /** The value, or the flash value, which is then removed. */
  get<Key extends (keyof Data | keyof FlashData) & string>(
    name: Key
  ): (Key extends keyof Data ? Data[Key] : undefined) | (Key extends keyof FlashData ? FlashData[Key] : undefined) | undefined {
    if (this.#data.has(name)) return this.#data.get(name) as any;
    const flash = flashKey(name);
    if (!this.#data.has(flash)) return undefined;
    const value = this.#data.get(flash);
    this.#data.delete(flash);
    return value as any;
  }

  set<Key extends keyof Data & string>(name: Key, value: Data[Key]): void {
    if (!isForbiddenKey(name)) this.#data.set(name, value);
  }

  /** Sets a value that is removed by the next `get()` of it. */
  flash<Key extends keyof FlashData & string>(name: Key, value: FlashData[Key]): void {
    if (!isForbiddenKey(name)) this.#data.set(flashKey(name), value);
  }

  unset(name: keyof Data & string): void {
    this.#data.delete(name);
  }
}
