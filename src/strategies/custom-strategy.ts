import type { RequestEvent } from '@sveltejs/kit';
import { checkStrategyMethods } from '../config.js';
import { SessionError } from '../errors.js';
import type {
  FlashSessionData,
  PerRequestStrategyClass,
  SessionData,
  SessionStorageStrategy,
  StrategyContext
} from '../types.js';
import { BaseStrategy } from './base-strategy.js';

/**
 * A strategy from four functions, for stores too small to deserve a class.
 *
 * @example
 * ```ts
 * const rows = new Map<string, string>();
 * const strategy = createCustomStrategy({
 *   async createData(data) { const id = nanoid(24); rows.set(id, JSON.stringify(data)); return id; },
 *   async readData(id) { const row = rows.get(id); return row ? JSON.parse(row) : null; },
 *   async updateData(id, data) { if (!rows.has(id)) return false; rows.set(id, JSON.stringify(data)); },
 *   async deleteData(id) { rows.delete(id); }
 * });
 * export const handle = handleSession({ adapter: { strategy }, session: { secrets } });
 * ```
 * @throws SessionConfigError when a method is missing.
 */
export function createCustomStrategy<Data = SessionData, FlashData = Data>(
  methods: SessionStorageStrategy<Data, FlashData>
): BaseStrategy<Data, FlashData> {
  checkStrategyMethods(methods, 'createCustomStrategy()');
  const strategy = new (class CustomStrategy extends BaseStrategy<Data, FlashData> {
    createData(data: FlashSessionData<Data, FlashData>, expires?: Date, context?: StrategyContext) {
      return methods.createData(data, expires, context);
    }
    readData(id: string, context?: StrategyContext) {
      return methods.readData(id, context);
    }
    updateData(id: string, data: FlashSessionData<Data, FlashData>, expires?: Date, context?: StrategyContext) {
      return methods.updateData(id, data, expires, context);
    }
    deleteData(id: string, context?: StrategyContext) {
      return methods.deleteData(id, context);
    }
  })();
  // The optional user index (`session.userId`), when the store has it.
  const { addUserSession, takeUserSessions } = methods;
  if (typeof addUserSession === 'function') strategy.addUserSession = addUserSession.bind(methods);
  if (typeof takeUserSessions === 'function') strategy.takeUserSessions = takeUserSessions.bind(methods);
  return strategy;
}

/**
 * Runs a {@link PerRequestStrategyClass}: one instance per request, made on first use with that
 * request's event and the adapter's options, and reused by every call of that request.
 */
export class PerRequestStrategy extends BaseStrategy<any, any> {
  readonly #instances = new WeakMap<RequestEvent, SessionStorageStrategy<any, any>>();

  constructor(
    private readonly Strategy: PerRequestStrategyClass,
    private readonly options: unknown
  ) {
    super();
  }

  createData(data: SessionData, expires?: Date, context?: StrategyContext) {
    return this.#for(context).createData(data, expires);
  }
  readData(id: string, context?: StrategyContext) {
    return this.#for(context).readData(id);
  }
  updateData(id: string, data: SessionData, expires?: Date, context?: StrategyContext) {
    return this.#for(context).updateData(id, data, expires);
  }
  deleteData(id: string, context?: StrategyContext) {
    return this.#for(context).deleteData(id);
  }

  #for(context: StrategyContext | undefined): SessionStorageStrategy<any, any> {
    if (!context) {
      throw new SessionError('SESSION_UNSUPPORTED', `${this.Strategy.name || 'This strategy'} is built per request with (event, options); call it with a request context.`);
    }
    let instance = this.#instances.get(context.event);
    if (!instance) {
      instance = new this.Strategy(context.event, this.options);
      this.#instances.set(context.event, instance);
    }
    return instance;
  }
}

/**
 * The engine-facing strategy for `adapter.strategy`, in any of its three forms: a `BaseStrategy`
 * as it is, a per-request class, or an object with the four methods.
 */
export function toBaseStrategy(
  strategy: SessionStorageStrategy<any, any> | PerRequestStrategyClass,
  options: unknown
): BaseStrategy<any, any> {
  if (strategy instanceof BaseStrategy) return strategy;
  if (typeof strategy === 'function') return new PerRequestStrategy(strategy, options);
  return createCustomStrategy(strategy);
}
