/**
 * Fuzzing (issue 6, item 5; SPEC §3 and §4.5): fast-check properties over cookie headers and
 * envelopes, random, mutated, truncated, oversized and wrongly encoded. Whatever a client sends,
 * the request neither throws nor gets a 5xx, and it never sees another session's data. No decoded
 * cookie or store record changes an object prototype. An id outside the id alphabet never reaches
 * a store.
 *
 * fast-check draws a new seed on every run. A failure prints the seed, the path and the shrunk
 * counterexample; `fc.assert(property, { seed, path })` replays it.
 */
import { randomBytes } from 'node:crypto';
import { jest } from '@jest/globals';
import type { Handle } from '@sveltejs/kit';
import { parse as parseCookieHeader } from 'cookie';
import * as fc from 'fast-check';
import { createSessionContainer } from '../../src/container.js';
import { ChunkedCookieCodec } from '../../src/services/chunked-cookie-codec.js';
import { HmacSigner } from '../../src/services/hmac-signer.js';
import { Tokens } from '../../src/tokens.js';
import type { DecodedEnvelope, HandleSessionOptions, Signer } from '../../src/types.js';
import { MapStrategy } from '../helpers/map-strategy.js';
import { ops, results } from '../helpers/kit-app.js';
import { SECRET, sessionApp, type SessionApp } from '../helpers/session-app.js';

const COOKIE = '__sid';
const ID = /^[A-Za-z0-9_-]{1,128}$/;
const FORBIDDEN = ['__proto__', 'constructor', 'prototype'];
const BASE64URL = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'];
/** The most a chunked session may take in these tests (the highest maxSize the library allows). */
const MAX_SIZE = 15_360;
/** The ops every fuzzed request runs: what the session shows. */
const SHOW = ops(['data'], ['id']);
/** A generous timeout for one property (many requests through SvelteKit). */
const PROPERTY_TIMEOUT = 180_000;

interface StrategyRow {
  label: string;
  adapter: NonNullable<HandleSessionOptions['adapter']>;
  /** Characters of filler in sessions A and B: in the chunked row, enough for three chunks. */
  filler: number;
  /** How many cookies each of A and B takes. */
  cookies: number;
}

/** The strategies fuzzed through SvelteKit. Another strategy is one more row. */
const strategies: StrategyRow[] = [
  { label: 'cookie', adapter: { name: 'cookie' }, filler: 1_500, cookies: 1 },
  // maxSize above its 7 KiB default, so that A and B take three chunks and chunks can be reordered.
  { label: 'cookie with chunk: true', adapter: { name: 'cookie', options: { chunk: true, maxSize: 12_288 } }, filler: 7_000, cookies: 3 },
  { label: 'cookie with encrypt: true', adapter: { name: 'cookie', options: { encrypt: true } }, filler: 1_500, cookies: 1 },
  { label: 'memory', adapter: { name: 'memory' }, filler: 1_500, cookies: 1 }
];

// ---------------------------------------------------------------------------------------
// Oracles and helpers
// ---------------------------------------------------------------------------------------

/**
 * The session cookie's value as the wire format defines it (ChunkedCookieCodec): `__sid` itself,
 * or, after a `~N~` marker with N from 2 to 16, the pieces in `__sid`, `__sid.1` … `__sid.N-1`
 * joined. `undefined` when there is no session cookie or a piece is missing or empty.
 */
function sessionValue(cookies: Record<string, string | undefined>): string | undefined {
  const main = cookies[COOKIE];
  if (!main) return undefined;
  const marker = /^~(\d{1,2})~/.exec(main);
  if (!marker) return main;
  const count = Number(marker[1]);
  if (count < 2 || count > 16) return undefined;
  let value = main.slice(marker[0].length);
  for (let i = 1; i < count; i++) {
    const piece = cookies[`${COOKIE}.${i}`];
    if (!piece) return undefined;
    value += piece;
  }
  return value;
}

/**
 * The cookie header a server receives for `text`: its UTF-8 bytes, one character per byte (as
 * Node's HTTP parser hands them over), without NUL, CR and LF, which no request header can carry.
 */
function asHeader(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1').replace(/[\0\r\n]/g, '');
}

/** `pairs` as a cookie header, each value percent-encoded as a browser jar sends it. */
function encodedHeader(pairs: Array<[string, string]>): string {
  return pairs.map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join('; ');
}

/** `value` as session cookies: one, or `~N~` and the first piece, then `__sid.1` … (4000 characters each). */
function chunked(value: string, pieceLength = 4_000): Array<[string, string]> {
  if (value.length <= pieceLength) return [[COOKIE, value]];
  const pieces: string[] = [];
  for (let at = 0; at < value.length; at += pieceLength) pieces.push(value.slice(at, at + pieceLength));
  return pieces.map((piece, i) => (i === 0 ? [COOKIE, `~${pieces.length}~${piece}`] : [`${COOKIE}.${i}`, piece]));
}

/**
 * `value` with the two spare low bits of its last character changed. Base64url decoders ignore
 * them, so a signature spelled this way decodes to the same bytes: only its canonical spelling
 * may be accepted.
 */
function withSpareBits(value: string, bits: number): string {
  const last = BASE64URL.indexOf(value[value.length - 1]);
  return last < 0 ? value : value.slice(0, -1) + BASE64URL[last ^ bits];
}

const signer = createSessionContainer({ session: { secrets: [SECRET] } }).resolve<Signer>(Tokens.Signer);

/**
 * A correctly signed envelope written by hand, so that any id and payload get past the HMAC (the
 * codec itself refuses to write an id outside the alphabet).
 */
async function handSigned(id: string, payload: string, now: number): Promise<string> {
  const seconds = Math.floor(now / 1000);
  const signed = ['1', id, seconds.toString(36), (seconds + 3600).toString(36), payload].join('.');
  return `${signed}.${await signer.sign(`${COOKIE}=${signed}`)}`;
}

/** A store that records the id of every `readData()` call. */
class RecordingStore extends MapStrategy {
  reads: string[] = [];
  override async readData(id: string) {
    this.reads.push(id);
    return super.readData(id);
  }
}

/** What a request got, and what went wrong on the server meanwhile. */
interface Sent {
  status: number;
  /** The ops' results: `[data, id]`; `undefined` when the status is not 200. */
  shown: unknown[] | undefined;
  /** The cookies the server parsed from the header (the `cookie` package, as handleSession does). */
  seen: Record<string, string | undefined>;
  /** Errors SvelteKit's handleError recorded and console.error calls. */
  errors: unknown[];
}

const spyOnConsoleErrors = () => jest.spyOn(console, 'error');
let consoleErrors: ReturnType<typeof spyOnConsoleErrors>;
beforeEach(() => {
  consoleErrors = spyOnConsoleErrors();
});
afterEach(() => {
  consoleErrors.mockRestore();
});

async function send(app: SessionApp, route: string, header: string): Promise<Sent> {
  app.app.clearErrors();
  consoleErrors.mockClear();
  const request = new Request(`http://localhost${route}${SHOW}`, { headers: { cookie: header } });
  const seen = parseCookieHeader(request.headers.get('cookie') ?? '');
  const response = await app.app.respond(request);
  const shown = response.status === 200 ? await results(response) : (await response.text(), undefined);
  return { status: response.status, shown, seen, errors: [...app.app.errors(), ...consoleErrors.mock.calls] };
}

/** One real session, made through SvelteKit as a browser would. */
interface KnownSession {
  owner: string;
  /** Its Set-Cookie values in the order written: `__sid`, then `__sid.1` … */
  cookies: Array<[string, string]>;
  /** The session cookie's value with chunks joined. */
  value: string;
  /** What it shows: `[data, id]`. */
  shown: unknown[];
}

async function makeSession(app: SessionApp, owner: string, filler: number): Promise<KnownSession> {
  const browser = app.browser();
  // Random filler, so that A's and B's values differ all along (and compress nowhere).
  const fill = randomBytes(Math.ceil(filler / 2)).toString('hex').slice(0, filler);
  await browser.get(`/api${ops(['set', 'owner', owner], ['set', 'filler', fill], ['set', 'n', owner.charCodeAt(0)])}`);
  const cookies = Object.entries(browser.cookies()).filter(([name]) => name === COOKIE || name.startsWith(`${COOKIE}.`));
  const shown = await results(await browser.get(`/api${SHOW}`));
  expect(shown).toEqual([{ owner, filler: fill, n: owner.charCodeAt(0) }, expect.any(String)]);
  return { owner, cookies, value: sessionValue(Object.fromEntries(cookies))!, shown };
}

async function twoSessions(row: StrategyRow): Promise<{ app: SessionApp; a: KnownSession; b: KnownSession }> {
  const app = await sessionApp({ adapter: row.adapter });
  const a = await makeSession(app, 'A', row.filler);
  const b = await makeSession(app, 'B', row.filler);
  expect([a.cookies.length, b.cookies.length]).toEqual([row.cookies, row.cookies]);
  return { app, a, b };
}

/** Checks common to every fuzzed request: no 5xx, nothing logged. */
function expectNoError(sent: Sent): void {
  expect({ status: sent.status, errors: sent.errors }).toEqual({ status: 200, errors: [] });
}

/**
 * What the request must show given the cookies the server saw: a known session only when the
 * session cookie's value is exactly that session's, otherwise an empty one.
 */
function expectedShown(seen: Record<string, string | undefined>, known: KnownSession[]): unknown[] {
  const value = sessionValue(seen);
  return known.find((session) => session.value === value)?.shown ?? [{}, ''];
}

// ---------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------

const base64urlChar = fc.constantFrom(...BASE64URL);
const base64url = (maxLength: number) => fc.string({ unit: base64urlChar, maxLength });

/** Envelopes of the right shape with a made-up signature: they cost an HMAC and must fail it. */
const unsignedEnvelope = fc
  .record({
    id: fc.stringMatching(/^[A-Za-z0-9_-]{1,30}$/),
    created: fc.stringMatching(/^[0-9a-z]{1,9}$/),
    // Mostly in the future: an unchecked signature would then show the forged data.
    expires: fc.oneof(fc.constant('zzzzzzzzz'), fc.stringMatching(/^[0-9a-z]{1,9}$/)),
    payload: fc.oneof(
      fc.constant(Buffer.from('{"owner":"forged"}').toString('base64url')),
      fc.json().map((text) => Buffer.from(text).toString('base64url')),
      base64url(40)
    ),
    signature: fc.stringMatching(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/)
  })
  .map(({ id, created, expires, payload, signature }) => `1.${id}.${created}.${expires}.${payload}.${signature}`);

/** A cookie name: mostly the session cookie and its chunks (and near misses), sometimes anything. */
const cookieName = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(COOKIE, `${COOKIE}.1`, `${COOKIE}.2`, `${COOKIE}.3`, `${COOKIE}.15`, `${COOKIE}.16`) },
  { weight: 1, arbitrary: fc.constantFrom(`${COOKIE}.0`, `${COOKIE}.01`, '__SID', ` ${COOKIE}`, `${COOKIE} `, `__Host-${COOKIE}`, '__proto__', 'constructor') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }
);

/** A cookie value, from plain junk to things shaped like (chunks of) session cookies. */
const cookieValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  // Any code point, control characters included.
  fc.string({ unit: 'binary', maxLength: 20 }),
  // Percent escapes, broken ones among them.
  fc.string({ unit: fc.constantFrom('%', '%2', '%25', '%E0', '%A4', '%ZZ', '%00', '%3B', '%0A', '%C0%80', 'a', '.'), maxLength: 12 }),
  fc.string({ maxLength: 20 }).map((text) => `"${text}"`),
  // Very long values.
  fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.integer({ min: 500, max: 2_500 })).map(([text, times]) => text.repeat(times)),
  unsignedEnvelope,
  fc.tuple(fc.integer({ min: 0, max: 120 }), fc.oneof(base64url(60), unsignedEnvelope)).map(([count, rest]) => `~${count}~${rest}`)
);

/** How one cookie appears in the header: `name=value`, or broken up. */
const cookiePart = fc
  .tuple(cookieName, cookieValue, fc.constantFrom('pair', 'pair', 'pair', 'name only', 'value only', 'spaced'))
  .map(([name, value, form]) =>
    form === 'name only' ? name : form === 'value only' ? `=${value}` : form === 'spaced' ? ` ${name} = ${value} ` : `${name}=${value}`
  );

/**
 * JSON text of a key, often one that reaches prototypes (also spelled with escapes). Random keys
 * have at most 8 characters: never a flash key (`__flash_<name>__`), which `data` shows renamed.
 */
const forbiddenKeyText = fc.constantFrom(
  '"__proto__"',
  '"constructor"',
  '"prototype"',
  '"\\u005f_proto__"',
  '"__proto\\u005f_"',
  '"\\u0063onstructor"',
  '"prototyp\\u0065"'
);
const keyText = fc.oneof(
  { weight: 2, arbitrary: forbiddenKeyText },
  { weight: 1, arbitrary: fc.constantFrom('"polluted"', '"toString"', '"hasOwnProperty"', '"valueOf"', '"__defineGetter__"') },
  { weight: 2, arbitrary: fc.string({ maxLength: 8 }).map((key) => JSON.stringify(key)) }
);

/** JSON text of an object whose keys, at any depth, are often `__proto__`, `constructor` or `prototype`. */
const { object: objectWithForbiddenKeys } = fc.letrec<{ value: string; object: string; array: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 0 }).map((value) => JSON.stringify(value)),
    fc.constant('{"polluted":"yes"}'),
    tie('object'),
    tie('array')
  ),
  object: fc
    .array(fc.tuple(keyText, tie('value')), { maxLength: 5 })
    .map((entries) => `{${entries.map(([key, value]) => `${key}:${value}`).join(',')}}`),
  array: fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`)
}));

/** JSON text of an object with a forbidden key `depth` objects down, or inside `depth` arrays under one object. */
const deeplyNested = (maxDepth: number) =>
  fc
    .record({ depth: fc.integer({ min: 0, max: maxDepth }), arrays: fc.boolean(), key: forbiddenKeyText })
    .map(({ depth, arrays, key }) => {
      const inner = `{${key}:{"polluted":"yes"},"ok":1}`;
      return arrays
        ? `{"a":${'['.repeat(depth)}${inner}${']'.repeat(depth)}}`
        : `${'{"a":'.repeat(depth)}${inner}${'}'.repeat(depth)}`;
    });

/** JSON objects whose numbers JavaScript cannot hold exactly (or at all). */
const hugeNumbers = fc
  .array(
    fc.oneof(
      fc.constantFrom('1e999', '-1e999', '1e-999', '123456789012345678901234567890e300', '-0', '0.1e-400'),
      fc.bigInt({ min: -(10n ** 400n), max: 10n ** 400n }).map(String),
      fc.stringMatching(/^-?[1-9][0-9]{0,30}(\.[0-9]{1,30})?[eE][+-]?[0-9]{3,6}$/)
    ),
    { minLength: 1, maxLength: 4 }
  )
  .map((numbers) => `{${numbers.map((n, i) => `"n${i}":${n}`).join(',')}}`);

/** fc.object() with the forbidden keys among its keys, at any depth. */
const objectWithInjectedKeys = fc
  .object({ key: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(...FORBIDDEN)), maxDepth: 4, maxKeys: 5 })
  .map((object) => JSON.stringify(object));

/** JSON text of a store record: always an object (a store answering anything else is a 503, §4.6). */
const recordText = fc.oneof(objectWithForbiddenKeys, objectWithInjectedKeys, deeplyNested(200), hugeNumbers);

const utf8 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
/** Byte sequences no UTF-8 decoder may accept. */
const invalidUtf8Bytes = fc.constantFrom([0x80], [0xc0, 0x80], [0xc1, 0xbf], [0xed, 0xa0, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xff], [0xfe, 0xff], [0xf0, 0x9f, 0x98]);

/** Cookie-strategy payloads (base64url in a signed envelope), most of them wrongly encoded. */
const payload = fc.oneof(
  // Not base64url: an impossible length, or characters outside the alphabet (padding, base64's + and /).
  base64url(60).map((text) => text + 'A'.repeat((5 - (text.length % 4)) % 4)),
  fc.tuple(base64url(20), fc.constantFrom('+', '/', '=', '==', ' ', '%3D', '~', '\u00e9', '\u{1f4a5}'), base64url(20)).map((parts) => parts.join('')),
  // Not UTF-8, also inside an otherwise valid JSON object.
  fc.uint8Array({ minLength: 1, maxLength: 60 }).map((bytes) => Buffer.from(bytes).toString('base64url')),
  fc
    .tuple(fc.string({ maxLength: 10 }), invalidUtf8Bytes, fc.string({ maxLength: 10 }))
    .map(([before, bad, after]) => Buffer.concat([Buffer.from(`{"a":"${before}`), Buffer.from(bad), Buffer.from(`${after}"}`)]).toString('base64url')),
  // Not JSON.
  fc.string({ unit: 'grapheme', maxLength: 60 }).map(utf8),
  fc.json().map((text) => utf8(text.slice(0, -1))),
  // JSON, but not an object.
  fc
    .oneof(fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }), fc.double(), fc.integer(), fc.constant(null), fc.string(), fc.boolean())
    .map((value) => utf8(JSON.stringify(value))),
  // Any JSON.
  fc.json().map(utf8),
  // Deeply nested, huge numbers, and the keys that reach prototypes at any depth.
  deeplyNested(1_000).map(utf8),
  hugeNumbers.map(utf8),
  objectWithForbiddenKeys.map(utf8),
  objectWithInjectedKeys.map(utf8)
);

// ---------------------------------------------------------------------------------------
// Prototype checks
// ---------------------------------------------------------------------------------------

const prototypesBefore = {
  object: Object.getOwnPropertyNames(Object.prototype).sort(),
  array: Object.getOwnPropertyNames(Array.prototype).sort()
};

function expectPrototypesUntouched(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypesBefore.object);
  expect(Object.getOwnPropertyNames(Array.prototype).sort()).toEqual(prototypesBefore.array);
}

/**
 * Where `value` breaks SPEC §3 (json.ts: keys that reach prototypes are dropped "at every depth"):
 * an object whose prototype is not the plain one, or an own `__proto__`, `constructor` or
 * `prototype` key, at any depth.
 */
function prototypeProblems(value: unknown, path = 'data', found: string[] = []): string[] {
  if (value === null || typeof value !== 'object') return found;
  const proto = Object.getPrototypeOf(value);
  if (proto !== null && proto !== (Array.isArray(value) ? Array.prototype : Object.prototype)) {
    found.push(`${path} has a changed prototype`);
  }
  for (const key of Object.getOwnPropertyNames(value)) {
    if (FORBIDDEN.includes(key)) found.push(`${path} has an own "${key}" key`);
    prototypeProblems((value as Record<string, unknown>)[key], `${path}[${JSON.stringify(key)}]`, found);
  }
  return found;
}

/** A parsed JSON value without the forbidden keys, at every depth (the expected session data). */
function withoutForbiddenKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(withoutForbiddenKeys);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (!FORBIDDEN.includes(key)) out[key] = withoutForbiddenKeys((value as Record<string, unknown>)[key]);
  }
  return out;
}

/**
 * The record a cookie-strategy payload must give: the decoded JSON object without forbidden keys,
 * or `null` when the payload is not strict base64url of UTF-8 JSON text of an object.
 */
function expectedRecord(payload: string): Record<string, unknown> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(payload) || payload.length % 4 === 1) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(payload, 'base64url')));
  } catch {
    return null;
  }
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
    ? (withoutForbiddenKeys(parsed) as Record<string, unknown>)
    : null;
}

/** An inner handle that keeps what `event.locals.session.data` holds, before the route runs. */
function capture(): { handle: Handle; data: () => unknown } {
  let data: unknown;
  return {
    handle: ({ event, resolve }) => {
      data = (event.locals as { session: { data: unknown } }).session.data;
      return resolve(event);
    },
    data: () => data
  };
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

describe.each(strategies.map((row) => [row.label, row] as const))('fuzzed cookie headers through SvelteKit: %s strategy', (_label, row) => {
  const route = fc.constantFrom('/api', '/page', '/page/__data.json');

  it(
    'any cookie header gives a 200 and an empty session, unless it carries a valid session cookie unchanged',
    async () => {
      const { app, a } = await twoSessions(row);
      let showedA = 0;
      await fc.assert(
        fc.asyncProperty(
          route,
          fc.array(cookiePart, { maxLength: 24 }),
          fc.constantFrom('; ', ';', ' ; ', ',', ';;', ';\t'),
          fc.option(fc.nat(), { freq: 3 }),
          async (path, parts, separator, validAt) => {
            // A's own cookies, somewhere among the junk (earlier junk of the same name wins).
            const all = [...parts];
            if (validAt !== null) all.splice(validAt % (all.length + 1), 0, ...a.cookies.map(([name, value]) => `${name}=${value}`));
            const sent = await send(app, path, asHeader(all.join(separator)));
            expectNoError(sent);
            const expected = expectedShown(sent.seen, [a]);
            expect(sent.shown).toEqual(expected);
            if (expected === a.shown) showedA++;
          }
        ),
        { numRuns: 1_500 }
      );
      // The property also met headers where the session had to be found.
      expect(showedA).toBeGreaterThan(0);
    },
    PROPERTY_TIMEOUT
  );

  type Mutation =
    | { kind: 'replace' | 'insert'; cookie: number; at: number; text: string }
    | { kind: 'delete' | 'change case' | 'percent-encode'; cookie: number; at: number; count: number }
    | { kind: 'truncate'; cookie: number; at: number }
    | { kind: 'repeat'; cookie: number; times: number }
    | { kind: "B's piece"; cookie: number; piece: number }
    | { kind: "B's cookies" }
    | { kind: "B's signature" }
    | { kind: 'last signature character'; text: string }
    | { kind: 'signature spare bits'; bits: number }
    | { kind: 'splice with B'; cookie: number; at: number; piece: number; atB: number }
    | { kind: 'swap values'; cookie: number; other: number }
    | { kind: 'reverse header order' }
    | { kind: 'rename'; cookie: number; name: string }
    | { kind: 'drop'; cookie: number }
    | { kind: 'duplicate'; cookie: number; value: string | null; before: boolean }
    | { kind: 'chunk marker'; count: number };

  const cookie = fc.nat();
  const at = fc.nat();
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constantFrom('replace' as const, 'insert' as const), cookie, at, text: fc.oneof(base64urlChar, fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }), fc.constantFrom('.', '~', ';', '%', '=')) }),
    fc.record({ kind: fc.constantFrom('delete' as const, 'change case' as const, 'percent-encode' as const), cookie, at, count: fc.integer({ min: 1, max: 50 }) }),
    fc.record({ kind: fc.constant('truncate' as const), cookie, at }),
    fc.record({ kind: fc.constant('repeat' as const), cookie, times: fc.integer({ min: 2, max: 3 }) }),
    fc.record({ kind: fc.constant("B's piece" as const), cookie, piece: fc.nat() }),
    fc.record({ kind: fc.constant("B's cookies" as const) }),
    fc.record({ kind: fc.constant("B's signature" as const) }),
    fc.record({ kind: fc.constant('last signature character' as const), text: base64urlChar }),
    fc.record({ kind: fc.constant('signature spare bits' as const), bits: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant('splice with B' as const), cookie, at, piece: fc.nat(), atB: fc.nat() }),
    fc.record({ kind: fc.constant('swap values' as const), cookie, other: fc.nat() }),
    fc.record({ kind: fc.constant('reverse header order' as const) }),
    fc.record({ kind: fc.constant('rename' as const), cookie, name: fc.constantFrom(COOKIE, `${COOKIE}.1`, `${COOKIE}.2`, `${COOKIE}.3`, `${COOKIE}.01`) }),
    fc.record({ kind: fc.constant('drop' as const), cookie }),
    fc.record({ kind: fc.constant('duplicate' as const), cookie, value: fc.option(fc.string({ maxLength: 10 })), before: fc.boolean() }),
    fc.record({ kind: fc.constant('chunk marker' as const), count: fc.integer({ min: 0, max: 20 }) })
  );

  /** A's cookies with `mutations` applied, in header order. */
  function mutate(a: KnownSession, b: KnownSession, mutations: Mutation[]): Array<[string, string]> {
    const pairs = a.cookies.map(([name, value]) => [name, value] as [string, string]);
    const lastName = a.cookies[a.cookies.length - 1][0];
    const bPiece = (n: number) => b.cookies[n % b.cookies.length][1];
    for (const m of mutations) {
      if (m.kind === 'reverse header order') {
        pairs.reverse();
        continue;
      }
      if (m.kind === "B's cookies") {
        // Every cookie that has a namesake among B's takes B's value.
        for (const pair of pairs) pair[1] = b.cookies.find(([name]) => name === pair[0])?.[1] ?? pair[1];
        continue;
      }
      if (m.kind === "B's signature" || m.kind === 'last signature character' || m.kind === 'signature spare bits') {
        const last = pairs.find(([name]) => name === lastName);
        if (!last) continue;
        if (m.kind === "B's signature") last[1] = last[1].slice(0, -43) + b.value.slice(-43);
        else if (m.kind === 'last signature character') last[1] = last[1].slice(0, -1) + m.text;
        else last[1] = withSpareBits(last[1], m.bits);
        continue;
      }
      if (m.kind === 'chunk marker') {
        const main = pairs.find(([name]) => name === COOKIE);
        if (main) main[1] = `~${m.count}~${main[1].replace(/^~\d{1,2}~/, '')}`;
        continue;
      }
      if (pairs.length === 0) continue;
      const i = m.cookie % pairs.length;
      const value = pairs[i][1];
      const cut = 'at' in m ? m.at % (value.length + 1) : 0;
      switch (m.kind) {
        case 'replace':
          pairs[i][1] = value.slice(0, cut) + m.text + value.slice(cut + m.text.length);
          break;
        case 'insert':
          pairs[i][1] = value.slice(0, cut) + m.text + value.slice(cut);
          break;
        case 'delete':
          pairs[i][1] = value.slice(0, cut) + value.slice(cut + m.count);
          break;
        case 'change case': {
          const span = value.slice(cut, cut + m.count);
          const changed = [...span].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
          pairs[i][1] = value.slice(0, cut) + changed + value.slice(cut + m.count);
          break;
        }
        case 'percent-encode': {
          // Raw escapes in the header: the server decodes them back, so the value may be A's again.
          const span = [...value.slice(cut, cut + m.count)].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`).join('');
          pairs[i][1] = value.slice(0, cut) + span + value.slice(cut + m.count);
          break;
        }
        case 'truncate':
          pairs[i][1] = value.slice(0, cut);
          break;
        case 'repeat':
          pairs[i][1] = value.repeat(m.times);
          break;
        case "B's piece":
          pairs[i][1] = bPiece(m.piece);
          break;
        case 'splice with B': {
          const other = bPiece(m.piece);
          pairs[i][1] = value.slice(0, cut) + other.slice(m.atB % (other.length + 1));
          break;
        }
        case 'swap values': {
          const j = m.other % pairs.length;
          [pairs[i][1], pairs[j][1]] = [pairs[j][1], pairs[i][1]];
          break;
        }
        case 'rename':
          pairs[i][0] = m.name;
          break;
        case 'drop':
          pairs.splice(i, 1);
          break;
        case 'duplicate': {
          const copy: [string, string] = [pairs[i][0], m.value ?? bPiece(i)];
          pairs.splice(m.before ? i : i + 1, 0, copy);
          break;
        }
      }
    }
    return pairs;
  }

  it(
    "mutations of a valid session cookie show that session only when unchanged, another only when it is exactly that one's, else an empty one",
    async () => {
      const { app, a, b } = await twoSessions(row);
      const outcomes = { A: 0, B: 0, empty: 0 };
      await fc.assert(
        fc.asyncProperty(route, fc.array(mutation, { minLength: 1, maxLength: 4 }), async (path, mutations) => {
          const pairs = mutate(a, b, mutations);
          const sent = await send(app, path, asHeader(pairs.map(([name, value]) => `${name}=${value}`).join('; ')));
          expectNoError(sent);
          const expected = expectedShown(sent.seen, [a, b]);
          expect(sent.shown).toEqual(expected);
          outcomes[expected === a.shown ? 'A' : expected === b.shown ? 'B' : 'empty']++;
        }),
        { numRuns: 1_500 }
      );
      // Every outcome was met: some mutations leave A's value as it was (an escape decoded back, a
      // case change of digits), and some turn it into B's.
      expect(outcomes.A).toBeGreaterThan(0);
      expect(outcomes.B).toBeGreaterThan(0);
      expect(outcomes.empty).toBeGreaterThan(0);
    },
    PROPERTY_TIMEOUT
  );
});

describe('wrongly encoded envelopes that pass the signature', () => {
  it(
    'cookie strategy: any payload gives a 200 and the decoded object without forbidden keys (or nothing), and no prototype changes',
    async () => {
      const seen = capture();
      const app = await sessionApp({ adapter: { name: 'cookie', options: { chunk: true, maxSize: MAX_SIZE } } }, seen.handle);
      const id = 'FuzzFuzzFuzzFuzzFuzzFuzz';
      await fc.assert(
        fc.asyncProperty(payload, async (data) => {
          const value = await handSigned(id, data, app.clock.now());
          const sent = await send(app, '/api', encodedHeader(chunked(value)));
          expectNoError(sent);
          expectPrototypesUntouched();
          expect(prototypeProblems(seen.data())).toEqual([]);
          const expected = value.length > MAX_SIZE ? null : expectedRecord(data);
          expect(seen.data()).toEqual(expected ?? {});
          // A payload that gives no record is not adopted.
          expect(sent.shown![1]).toBe(expected === null ? '' : id);
        }),
        { numRuns: 1_500 }
      );
    },
    PROPERTY_TIMEOUT
  );

  it(
    'a store returning records with forbidden keys at any depth: a 200, the record without them, and no prototype changes',
    async () => {
      const seen = capture();
      const store = new MapStrategy();
      const app = await sessionApp({ adapter: { strategy: store } }, seen.handle);
      const id = 'StoredStoredStoredStored';
      const header = encodedHeader([[COOKIE, await handSigned(id, '', app.clock.now())]]);
      await fc.assert(
        fc.asyncProperty(recordText, async (text) => {
          // MapStrategy.readData answers JSON.parse(row): own "__proto__" keys included.
          store.rows.set(id, text);
          const sent = await send(app, '/api', header);
          expectNoError(sent);
          expectPrototypesUntouched();
          expect(prototypeProblems(seen.data())).toEqual([]);
          expect(seen.data()).toEqual(withoutForbiddenKeys(JSON.parse(text)));
        }),
        { numRuns: 500 }
      );
    },
    PROPERTY_TIMEOUT
  );

  it('a store record with a __proto__ key nested 65 levels down has it removed too (the shrunk counterexample of the property above)', async () => {
    const seen = capture();
    const store = new MapStrategy();
    const app = await sessionApp({ adapter: { strategy: store } }, seen.handle);
    const id = 'StoredStoredStoredStored';
    store.rows.set(id, `${'{"a":'.repeat(65)}{"__proto__":{"polluted":"yes"},"ok":1}${'}'.repeat(65)}`);
    const sent = await send(app, '/api', encodedHeader([[COOKIE, await handSigned(id, '', app.clock.now())]]));
    expectNoError(sent);
    expect(prototypeProblems(seen.data())).toEqual([]);
  });
});

describe('ids outside the id alphabet never reach a store', () => {
  const outsideAlphabet = fc
    .oneof(
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }),
      // An id in the alphabet but for one character.
      fc
        .tuple(
          fc.stringMatching(/^[A-Za-z0-9_-]{0,20}$/),
          fc.constantFrom(...'./:*%?#\\ \t"\'<>{}[]@!$&+,;=~`^|', '\0', '\u00e9', '\u2028', '\uff21', '\u0430', '\u{1f4a5}'),
          fc.stringMatching(/^[A-Za-z0-9_-]{0,20}$/)
        )
        .map((parts) => parts.join('')),
      // Too long.
      fc.integer({ min: 129, max: 400 }).chain((length) => fc.string({ unit: base64urlChar, minLength: length, maxLength: length })),
      fc.constant('')
    )
    .filter((id) => !ID.test(id));

  it(
    'a validly signed envelope with such an id gives a fresh session, and readData() never sees it',
    async () => {
      const store = new RecordingStore();
      const app = await sessionApp({ adapter: { strategy: store } });
      await fc.assert(
        fc.asyncProperty(outsideAlphabet, async (id) => {
          store.reads = [];
          store.rows.set(id, JSON.stringify({ owner: 'planted' }));
          const sent = await send(app, '/api', encodedHeader([[COOKIE, await handSigned(id, '', app.clock.now())]]));
          store.rows.delete(id);
          expect(sent.seen[COOKIE]).toContain(id);
          expectNoError(sent);
          expect(store.reads.filter((read) => !ID.test(read))).toEqual([]);
          expect(sent.shown).toEqual([{}, '']);
        }),
        { numRuns: 1_000 }
      );
    },
    PROPERTY_TIMEOUT
  );

  it('the same hand-signed envelope with an id in the alphabet does reach the store (the property above can fail)', async () => {
    const store = new RecordingStore();
    const app = await sessionApp({ adapter: { strategy: store } });
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/), async (id) => {
        store.reads = [];
        store.rows.set(id, JSON.stringify({ owner: id }));
        const sent = await send(app, '/api', encodedHeader([[COOKIE, await handSigned(id, '', app.clock.now())]]));
        store.rows.delete(id);
        expectNoError(sent);
        expect(store.reads).toEqual([id]);
        expect(sent.shown).toEqual([{ owner: id }, id]);
      }),
      { numRuns: 100 }
    );
  });
});

describe('ChunkedCookieCodec.read() on arbitrary cookies', () => {
  const codec = new ChunkedCookieCodec({ cookieName: COOKIE, chunk: true, maxSize: 12_288 }, new HmacSigner({ secrets: [SECRET] }));
  const now = Math.floor(Date.now() / 1000) * 1000;
  const envelopes = [
    { id: 'ShortShortShortShortShor', created: now, expires: now + 3_600_000, payload: Buffer.from('{"a":1}').toString('base64url') },
    { id: 'LongLongLongLongLongLong', created: now, expires: now + 3_600_000, payload: randomBytes(7_000).toString('base64url') }
  ];

  it(
    'never throws, and returns null unless the cookies hold a valid envelope unchanged',
    async () => {
      const written = await Promise.all(envelopes.map((envelope) => codec.write(envelope)));
      expect(written.map((cookies) => cookies.length)).toEqual([1, 3]);
      const valid = written.map((cookies) => sessionValue(Object.fromEntries(cookies.map((c) => [c.name, c.value])))!);
      const pieces = written.flat();

      /** Values: junk, unsigned envelopes, and valid pieces as they are or slightly changed. */
      const value = fc.oneof(
        cookieValue,
        fc.constantFrom(...pieces.map((c) => c.value)),
        fc.tuple(fc.constantFrom(...pieces.map((c) => c.value)), fc.integer({ min: 1, max: 3 })).map(([piece, bits]) => withSpareBits(piece, bits)),
        fc
          .tuple(fc.constantFrom(...pieces.map((c) => c.value)), fc.nat(), fc.oneof(base64urlChar, fc.constant('')), fc.integer({ min: 0, max: 2 }))
          .map(([piece, at, text, remove]) => piece.slice(0, at % (piece.length + 1)) + text + piece.slice((at % (piece.length + 1)) + remove))
      );
      const cookies = fc.oneof(
        fc.dictionary(fc.oneof(cookieName, fc.constantFrom(...pieces.map((c) => c.name))), value, { maxKeys: 8 }),
        // A valid set of cookies with some of them replaced or added.
        fc
          .tuple(fc.constantFrom(...written), fc.dictionary(fc.oneof(cookieName, fc.constantFrom(...pieces.map((c) => c.name))), value, { maxKeys: 3 }))
          .map(([set, changes]) => ({ ...Object.fromEntries(set.map((c) => [c.name, c.value])), ...changes }))
      );

      let found = 0;
      fc.assert(
        fc.property(cookies, (input) => {
          let result: ReturnType<typeof codec.read>;
          expect(() => (result = codec.read(input))).not.toThrow();
          expect(result!).not.toBeInstanceOf(Promise);
          const index = valid.indexOf(sessionValue(input) as string);
          if (index < 0) {
            expect(result!).toBeNull();
          } else {
            expect(result!).toEqual({ ...envelopes[index], stale: false } satisfies DecodedEnvelope);
            found++;
          }
        }),
        { numRuns: 2_000 }
      );
      expect(found).toBeGreaterThan(0);
    },
    PROPERTY_TIMEOUT
  );
});
