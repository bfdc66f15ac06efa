/**
 * `npm run bench`: per-request cost of session libraries through SvelteKit's real cookie
 * handling, all in one process, measured two ways (README.md has the scenarios and the method):
 *   - layer:    Kit's `get_cookies()`, the contender's handle, the route operation and Kit's
 *               `add_cookies_to_headers()` (lib/layer.mjs): the session layer itself;
 *   - pipeline: Kit's whole `Server#respond` (routing, hooks, the endpoint, headers).
 *
 * Options (all optional):
 *   --mode M        layer, pipeline, or layer,pipeline (default)
 *   --rounds N      measured rounds (default 240); each round runs one batch of every contender
 *   --batch-ms N    target duration of one batch in ms (default 10)
 *   --warmup N      unrecorded warm-up rounds (default 10)
 *   --only S2,S3    run only these scenarios
 *   --libs ours     time only these contenders (ids: none pass hand ours ours-wc ours-nomem old skcs sks rr); for profiling
 *   --out FILE      where to write the JSON results (default results.json beside this file)
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listOption, option } from './lib/options.mjs';
import { CPU, machine } from './lib/machine.mjs';
import { median, quantile } from './lib/stats.mjs';
import { BENCH_DIR, ensureApp, ensureDist, loadServer } from './lib/prepare.mjs';
import { Jar } from './lib/jar.mjs';
import { answerBare, respondLayer } from './lib/layer.mjs';
import { startRedis } from './lib/redis.mjs';

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------
const ROUNDS = Number(option('rounds', 240));
const MODES = listOption('mode', 'layer,pipeline');
const BATCH_MS = Number(option('batch-ms', 10));
const WARMUP_ROUNDS = Number(option('warmup', 10));
const ONLY = listOption('only', '');
const LIBS = listOption('libs', '');
const OUT = path.resolve(option('out', path.join(BENCH_DIR, 'results.json')));

const SCENARIOS = {
	S1: { op: 'none', title: 'anonymous visitor, session never touched (no cookie sent)' },
	S2: { op: 'read', title: 'read the counter with a valid session cookie' },
	S3: { op: 'incr', title: 'read + write (visit counter), cookie strategy' },
	S4: { op: 'incr', title: 'read + write (visit counter), memory store' },
	S5: { op: 'incr', title: 'read + write with ~3 KB of data, chunked cookies' },
	S6: { op: 'incr', title: 'read + write (visit counter), Redis store' }
};
const MODE_TITLES = {
	layer: "session layer: Kit's get_cookies(), the handle and route operation, Kit's add_cookies_to_headers()",
	pipeline: "whole pipeline: Kit's Server#respond (routing, hooks, endpoint, headers)"
};
const ORIGIN = 'http://localhost';

// ---------------------------------------------------------------------------------------------
// Set-up
// ---------------------------------------------------------------------------------------------
ensureDist();
ensureApp();
const { respond } = await loadServer();
const { loadLibraries, versionOf, BLOB } = await import('./lib/libraries.mjs');
// S6 needs a redis-server of its own (a free port on 127.0.0.1, no persistence), stopped at exit.
const redis = !ONLY.length || ONLY.includes('S6') ? await startRedis() : { skipped: 'not requested' };
const { libs, failed: loadFailures, close: closeLibraries } = await loadLibraries({ redisUrl: redis.url });
const BLOB_LENGTH = JSON.stringify(BLOB).length;

const globals = globalThis;
function install(entry) {
	if (entry.handle) globals.__BENCH_HANDLE__ = entry.handle;
	else delete globals.__BENCH_HANDLE__;
	globals.__BENCH_OPS__ = entry.ops;
}

/** One request to a contender, by the given driver. */
function send(mode, entry, request) {
	if (mode === 'layer') return respondLayer(request, entry);
	install(entry);
	return respond(request);
}

async function callWith(mode, entry, jar, op) {
	const cookie = jar.header();
	const response = await send(mode, entry, new Request(`${ORIGIN}/${op}`, cookie ? { headers: { cookie } } : {}));
	const setCookies = response.headers.getSetCookie().length;
	jar.store(response);
	const text = await response.text();
	if (response.status !== 200) {
		const cause = globals.__BENCH_LAST_ERROR__;
		delete globals.__BENCH_LAST_ERROR__;
		throw new Error(`/${op} answered ${response.status}${cause ? `: ${cause?.message ?? cause}` : `: ${text.slice(0, 200)}`}`);
	}
	return { body: JSON.parse(text), setCookies };
}

function expect(what, actual, expected) {
	if (actual !== expected) throw new Error(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

/**
 * Drives one contender through its scenario the way a browser would (cookies carried over from
 * each response to the next request), checks the results, and returns the Cookie header the
 * timed request will send. Throws when the library's output is wrong: such a pair is not timed.
 */
async function prime(mode, scenario, entry) {
	const jar = new Jar();
	const call = (jar, op) => callWith(mode, entry, jar, op);
	if (scenario === 'S1') {
		const { body } = await call(jar, 'none');
		expect('S1 body', body.ok, true);
		return { cookie: '', note: jar.size ? `sets ${jar.size} cookie(s) for an untouched session` : '' };
	}
	if (scenario === 'S5') {
		expect('seed', (await call(jar, 'seed')).body.views, 0);
		const seeded = (await call(jar, 'check')).body;
		expect('blob after seed (JSON length)', seeded.blob, BLOB_LENGTH);
	}
	expect('first incr', (await call(jar, 'incr')).body.views, 1);
	expect('second incr, with the returned cookie', (await call(jar, 'incr')).body.views, 2);
	const state = (await call(jar, 'check')).body;
	expect('counter read back', state.views, 2);
	if (scenario === 'S5') expect('blob kept across writes (JSON length)', state.blob, BLOB_LENGTH);
	const read = await call(jar, 'read');
	expect('read', read.body.views, 2);
	const cookie = jar.header();
	let note = `${jar.size} cookie(s), ${cookie.length} B Cookie header`;
	if (scenario === 'S6') {
		const trips = await countRoundTrips(mode, entry, cookie);
		note += `; Redis commands per request: read ${trips.read.calls} (writes ${trips.read.writes}), write ${trips.write.calls}`;
		return { cookie, note, redis: trips };
	}
	return { cookie, note };
}

/**
 * Redis round trips and writes per request, as Redis itself sees them (MONITOR, over 20 requests
 * of each kind). Taken before timing: MONITOR slows Redis down, so it is off while timing.
 */
async function countRoundTrips(mode, entry, cookie) {
	const init = { headers: { cookie } };
	const N = 20;
	const measure = async (op) => {
		const seen = await redis.track(async () => {
			for (let i = 0; i < N; i++) await send(mode, entry, new Request(`${ORIGIN}/${op}`, init));
		});
		const commands = Object.fromEntries(Object.entries(seen.commands).map(([name, n]) => [name, n / N]));
		return { calls: seen.roundTrips / N, writes: seen.writes / N, commands };
	};
	return { read: await measure('read'), write: await measure('incr') };
}

/** After timing: the same request once more, to see the path timed still answered correctly. */
async function recheck(scenario, pair) {
	const op = pair.op;
	const response = await send(pair.mode, pair.entry, new Request(`${ORIGIN}/${op}`, pair.cookie ? { headers: { cookie: pair.cookie } } : {}));
	const body = await response.json();
	if (response.status !== 200) throw new Error(`${scenario} ${pair.lib.id}: ${response.status}`);
	if (op === 'none') expect(`${scenario} ${pair.lib.id} after timing`, body.ok, true);
	if (op === 'read') expect(`${scenario} ${pair.lib.id} after timing`, body.views, 2);
	if (op === 'incr' && !(body.views >= 3)) throw new Error(`${scenario} ${pair.lib.id} after timing: views ${body.views}`);
	return response.headers.getSetCookie().length;
}

const pairs = [];
const skipped = [...loadFailures.map((f) => ({ scenario: '*', ...f }))];
if (redis.skipped) skipped.push({ scenario: 'S6', id: '*', reason: redis.skipped });
for (const mode of MODES) {
	for (const scenario of Object.keys(SCENARIOS)) {
		if (ONLY.length && !ONLY.includes(scenario)) continue;
		for (const lib of libs) {
			if (LIBS.length && !LIBS.includes(lib.id)) continue;
			const make = lib.scenarios[scenario];
			if (!make) {
				if (lib.unsupported?.[scenario] && mode === MODES[0]) skipped.push({ scenario, id: lib.id, reason: lib.unsupported[scenario] });
				continue;
			}
			try {
				const entry = make();
				const primed = await prime(mode, scenario, entry);
				pairs.push({ mode, scenario, lib, entry, op: SCENARIOS[scenario].op, cookie: primed.cookie, note: primed.note, redis: primed.redis, batches: [] });
			} catch (error) {
				skipped.push({ mode, scenario, id: lib.id, reason: `failed the correctness check: ${error?.message ?? error}` });
			}
		}
		// The floor of S2-S6: no session library, answering the same request (ours' Cookie header,
		// which Kit parses too) with a route that does no session work.
		const floor = libs.find((l) => l.kind === 'floor-pipeline');
		const oursPair = pairs.find((p) => p.mode === mode && p.scenario === scenario && p.lib.kind === 'ours');
		if (scenario !== 'S1' && floor && oursPair && (!LIBS.length || LIBS.includes('none'))) {
			const entry = floor.scenarios.S1();
			pairs.push({ mode, scenario, lib: floor, entry, op: 'none', cookie: oursPair.cookie, note: "ours' Cookie header, route does no session work", batches: [] });
		}
	}
}

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------
const REQUEST_POOL = 16;
async function batch(pair, n) {
	const { mode, entry } = pair;
	const url = `${ORIGIN}/${pair.op}`;
	const init = pair.cookie ? { headers: { cookie: pair.cookie } } : undefined;
	// The Requests are built before the clock starts (the adapter's work, the same for everyone), a
	// few used in turn. A Request per iteration built beforehand would keep thousands alive through
	// the batch, and the garbage collector's cost of promoting them landed on whichever contender ran
	// next. Nothing keeps state on a Request: Kit and every contender read its URL and Cookie header.
	const requests = Array.from({ length: REQUEST_POOL }, () => new Request(url, init));
	if (mode === 'pipeline') {
		install(entry);
		const start = process.hrtime.bigint();
		for (let i = 0; i < n; i++) {
			const response = await respond(requests[i % REQUEST_POOL]);
			if (response.status !== 200) throw new Error(`${pair.scenario} ${pair.lib.id}: status ${response.status}`);
		}
		return Number(process.hrtime.bigint() - start) / 1000 / n;
	}
	const start = process.hrtime.bigint();
	for (let i = 0; i < n; i++) {
		const response = await respondLayer(requests[i % REQUEST_POOL], entry, answerBare);
		if (response.status !== 200) throw new Error(`${pair.scenario} ${pair.lib.id}: status ${response.status}`);
	}
	return Number(process.hrtime.bigint() - start) / 1000 / n;
}

console.error(`[bench] ${pairs.length} contenders x scenarios; ${WARMUP_ROUNDS} warm-up + ${ROUNDS} measured rounds, ~${BATCH_MS} ms batches`);
const started = Date.now();
// Calibrate each batch size (and warm up): ~BATCH_MS per batch.
for (const pair of pairs) {
	await batch(pair, 200);
	const perOp = await batch(pair, 200);
	pair.n = Math.max(20, Math.round((BATCH_MS * 1000) / perOp));
}
for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
	// Round-robin, starting one further each round, so no contender always follows the same one.
	const offset = ((round % pairs.length) + pairs.length) % pairs.length;
	for (let k = 0; k < pairs.length; k++) {
		const pair = pairs[(k + offset) % pairs.length];
		const mean = await batch(pair, pair.n);
		if (round >= 0) pair.batches.push(mean);
	}
}
const elapsed = (Date.now() - started) / 1000;
for (const pair of pairs) pair.setCookiesPerResponse = await recheck(pair.scenario, pair);

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------
for (const pair of pairs) {
	pair.median = median(pair.batches);
	pair.p25 = quantile(pair.batches, 0.25);
	pair.p75 = quantile(pair.batches, 0.75);
}

const find = (mode, scenario, id) => pairs.find((p) => p.mode === mode && p.scenario === scenario && p.lib.id === id);
function fastestPeer(mode, scenario) {
	const peers = pairs.filter((p) => p.mode === mode && p.scenario === scenario && p.lib.kind === 'peer');
	return peers.sort((a, b) => a.median - b.median)[0];
}

/** Above the no-library floor of the same mode and scenario: what the session work itself adds. */
const over = (pair) => {
	const floor = find(pair.mode, pair.scenario, 'none');
	return floor ? pair.median - floor.median : undefined;
};
const targets = [];
/**
 * One target, in one mode. Peer targets: how many times faster `mine` is than the fastest peer;
 * floor targets: how many times the floor `mine` costs.
 */
function target(mode, scenario, text, against, ok, mineId = 'ours', contextOnly = false) {
	// The pipeline is context except for S1, whose target is set on it (issue 5).
	const context = contextOnly || (mode === 'pipeline' && scenario !== 'S1');
	const mine = find(mode, scenario, mineId);
	const other = against === 'fastest peer' ? fastestPeer(mode, scenario) : find(mode, scenario, against);
	if (!mine || !other) {
		if (!context) targets.push({ mode, scenario, target: text, value: null, against: other?.lib.id ?? against, met: null });
		return;
	}
	const peer = other.lib.kind === 'peer';
	const value = peer ? other.median / mine.median : mine.median / other.median;
	const entry = { mode, scenario, target: text, value, against: other.lib.id, met: ok(value), context };
	const floor = find(mode, scenario, 'none');
	if (peer && floor) {
		// Context, not the target: the same ratio on what each adds above the no-library floor, and
		// the ceiling, the fastest peer over that floor: the best ratio a library costing nothing
		// could show in this run.
		entry.aboveFloor = over(other) / over(mine);
		entry.ceiling = other.median / floor.median;
	}
	targets.push(entry);
}
for (const mode of MODES) {
	// S1's target is set on "the pipeline with no library" (issue 5): Kit's whole respond(). In the
	// layer, where no library costs 1-2 µs in all, it is context: a handle that only reads the
	// Cookie header and awaits resolve() already costs about 1.1x there.
	target(mode, 'S1', 'ours <= 1.1x no library', 'none', (v) => v <= 1.1, 'ours', mode === 'layer');
	target(mode, 'S1', 'vs a handle that only calls resolve', 'pass', (v) => v <= 1.1, 'ours', true);
	for (const s of ['S2', 'S3']) {
		target(mode, s, '>= 8x faster than the fastest peer', 'fastest peer', (v) => v >= 8);
		target(mode, s, 'ours <= 1.5x the node:crypto floor', 'hand', (v) => v <= 1.5);
	}
	target(mode, 'S2', 'Web Crypto: >= 2x faster than fastest peer', 'fastest peer', (v) => v >= 2, 'ours-wc');
	target(mode, 'S4', '>= 8x faster than the fastest peer', 'fastest peer', (v) => v >= 8);
	target(mode, 'S5', '>= 5x faster than the fastest peer', 'fastest peer', (v) => v >= 5);
	// Context, not targets: ours with the verified-signature memory off, an HMAC on every request.
	for (const s of ['S2', 'S3', 'S4']) target(mode, s, 'memory off: vs the fastest peer', 'fastest peer', (v) => v >= 8, 'ours-nomem', true);
	for (const s of ['S2', 'S3']) target(mode, s, 'memory off: vs the node:crypto floor', 'hand', (v) => v <= 1.5, 'ours-nomem', true);
}
// S6: round trips, counted by Redis (the same in both modes: the first mode's count is reported).
const s6 = pairs.find((p) => p.scenario === 'S6' && p.lib.id === 'ours');
if (s6) {
	const { read, write } = s6.redis;
	targets.push({ mode: s6.mode, scenario: 'S6', target: 'read: 1 Redis round trip, no write', value: read.calls, against: 'redis', met: read.calls === 1 && read.writes === 0 });
	targets.push({ mode: s6.mode, scenario: 'S6', target: 'write: at most 2 Redis round trips', value: write.calls, against: 'redis', met: write.calls <= 2 });
}

const fmt = (v, d = 1) => (v === undefined || v === null || Number.isNaN(v) ? '-' : v.toFixed(d));
const lines = [];
lines.push(`Node ${process.version}, ${CPU}; ${ROUNDS} measured rounds after ${WARMUP_ROUNDS} warm-up, ~${BATCH_MS} ms batches; timing took ${elapsed.toFixed(0)} s`);
lines.push('µs per request: median of batch means (p25-p75 of batch means). "x ours": that row / ours.');
lines.push('"+floor": median minus the no-library row of the same scenario and mode (the session work itself).');
for (const mode of MODES) {
	lines.push('');
	lines.push(`=== ${mode}: ${MODE_TITLES[mode]}`);
	for (const [scenario, { title }] of Object.entries(SCENARIOS)) {
		const rows = pairs.filter((p) => p.mode === mode && p.scenario === scenario).sort((a, b) => a.median - b.median);
		const notRun = skipped.filter((s) => s.scenario === scenario && (s.mode === undefined || s.mode === mode));
		if (!rows.length && !notRun.length) continue;
		const base = find(mode, scenario, 'ours');
		lines.push('');
		lines.push(`${scenario}: ${title}`);
		if (rows.length) lines.push(`  ${'contender'.padEnd(45)} ${'median'.padStart(7)} ${'p25-p75'.padStart(13)} ${'x ours'.padStart(6)} ${'+floor'.padStart(6)} ${'Set-Cookie'.padStart(10)}  cookies sent`);
		for (const row of rows) {
			lines.push(
				`  ${row.lib.id.padEnd(7)} ${row.lib.label.slice(0, 37).padEnd(37)} ${fmt(row.median).padStart(7)} ${`${fmt(row.p25)}-${fmt(row.p75)}`.padStart(13)} ${(base ? fmt(row.median / base.median, 2) : '-').padStart(6)} ${fmt(over(row)).padStart(6)} ${String(row.setCookiesPerResponse).padStart(10)}  ${row.note}`
			);
		}
		for (const skip of notRun) lines.push(`  ${skip.id.padEnd(7)} not run: ${skip.reason}`);
	}
}
lines.push('');
lines.push('Targets (medians of the same run; "above the floor" and "ceiling" are context, not the target):');
for (const t of targets) {
	const status = t.context ? 'context' : t.met === null ? 'n/a' : t.met ? 'MET' : 'MISSED';
	const unit = t.against === 'redis' ? ' round trips' : 'x vs ' + String(t.against).padEnd(5);
	const context = t.ceiling === undefined ? '' : `   [above the floor: ${fmt(t.aboveFloor, 1)}x; ceiling: ${fmt(t.ceiling, 2)}x]`;
	lines.push(`  ${t.mode.padEnd(8)} ${t.scenario} ${t.target.padEnd(43)} ${fmt(t.value, 2).padStart(6)}${unit} ${status.padEnd(6)}${context}`);
}
for (const skip of skipped.filter((s) => s.scenario === '*')) lines.push(`not loaded: ${skip.id}: ${skip.reason}`);
console.log(lines.join('\n'));

const versions = {};
for (const name of ['@sveltejs/kit', 'svelte', 'vite', 'old-svelte-dev-session', 'svelte-kit-cookie-session', 'svelte-kit-sessions', 'svelte-kit-connect-redis', 'react-router', 'ioredis']) {
	try {
		versions[name] = versionOf(name);
	} catch {
		versions[name] = null;
	}
}
const oursVersion = JSON.parse((await import('node:fs')).readFileSync(path.join(BENCH_DIR, '..', 'package.json'), 'utf8')).version;
writeFileSync(
	OUT,
	JSON.stringify(
		{
			...machine(),
			versions: { ours: oursVersion, ...versions },
			method: { modes: MODES, rounds: ROUNDS, warmupRounds: WARMUP_ROUNDS, batchMs: BATCH_MS, measuredSeconds: elapsed, unit: 'µs per request, median of batch means' },
			results: pairs.map((p) => ({
				mode: p.mode,
				scenario: p.scenario,
				id: p.lib.id,
				label: p.lib.label,
				kind: p.lib.kind,
				medianUs: p.median,
				p25Us: p.p25,
				p75Us: p.p75,
				batchSize: p.n,
				batches: p.batches,
				setCookiesPerResponse: p.setCookiesPerResponse,
				note: p.note,
				redis: p.redis
			})),
			skipped,
			targets
		},
		null,
		2
	) + '\n'
);
console.error(`[bench] wrote ${path.relative(process.cwd(), OUT) || OUT}`);
await redis.stop?.();
await closeLibraries();
