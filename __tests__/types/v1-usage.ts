/**
 * Code written against @svelte-dev/session 1.1.3's types, as its README and @svelte-dev/auth use
 * them. Never run: it only has to type-check (package.test.ts runs tsc over __tests__).
 */
import type { Handle, RequestEvent } from '@sveltejs/kit';
import {
  CookieStrategy,
  handleSession,
  Session,
  type AdapterOptions,
  type Constructable,
  type CookieOptions,
  type CookieStrageOptions,
  type FlashSessionData,
  type SessionData,
  type SessionOptions,
  type SessionStorage,
  type SessionStorageOptions,
  type SessionStorageStrategy
} from '../../src/index.js';

type Data = { user?: { name: string }; views: number };
type Flash = { 'auth:error': { message: string } };

// @svelte-dev/auth declares its options as AuthOptions & SessionStorageOptions and hands
// { adapter, cookie, session } to handleSession.
interface AuthOptions {
  autoRouting?: boolean;
  sessionKey?: string;
}
export function handleAuth(options: AuthOptions & SessionStorageOptions): Handle {
  const { adapter, cookie, session } = options;
  return handleSession({ adapter, cookie, session });
}
handleAuth({ autoRouting: true, adapter: { name: 'cookie', options: { chunk: true } }, session: { key: '__sid', secrets: ['s3cr3t'] }, cookie: { path: '/', maxAge: 60 } });

// 1.1.3's own type parameters.
const sessionOptions: SessionOptions = { key: '__sid', secrets: ['s3cr3t'] };
const cookie: CookieOptions = { path: '/', sameSite: 'lax', secure: true, httpOnly: true };
const options: SessionStorageOptions<Data, Flash, { namespace: string }> = { session: sessionOptions, cookie };
handleSession(options);
const named: AdapterOptions = { name: process.env.ADAPTER ?? 'cookie' }; // 1.1.3 typed name as string
handleSession({ adapter: named });
const chunked: CookieStrageOptions = { chunk: true };
void chunked;

// A strategy written as 1.1.3 documented: constructor(event, options).
class KvLike implements SessionStorageStrategy<Data, Flash> {
  constructor(
    readonly event: RequestEvent,
    readonly options: { prefix: string; session: SessionOptions; cookie: CookieOptions }
  ) {}
  async createData(_data: FlashSessionData<Data, Flash>, _expires?: Date) {
    return 'id';
  }
  async readData(_id: string) {
    return null;
  }
  async updateData(_id: string, _data: FlashSessionData<Data, Flash>, _expires?: Date) {}
  async deleteData(_id: string) {}
}
const Built: Constructable<SessionStorageStrategy<Data, Flash>, { prefix: string; session: SessionOptions; cookie: CookieOptions }> = KvLike;
handleSession({ adapter: { name: 'custom', strategy: KvLike, options: { prefix: 'sess:' } } });
void Built;

// The members of 1.1.3's SessionStorage, with its three type parameters.
export async function route(session: SessionStorage<Data, Flash, { namespace: string }>): Promise<void> {
  await session.init();
  const id: string = session.sid;
  await session.updateSid(id, { views: 1 });
  const views: number | undefined = session.get('views');
  await session.set('views', (views ?? 0) + 1);
  await session.flash('auth:error', { message: 'no' });
  await session.unset('views');
  await session.destory();
  void session.data;
}

const legacy = new Session<Data, Flash>({ views: 1 }, 'id');
legacy.flash('auth:error', { message: 'once' });
const shown: { message: string } | undefined = legacy.get('auth:error');
void [shown, CookieStrategy];
