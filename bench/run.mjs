/**
 * `npm run bench`: per-request cost of session libraries through SvelteKit's real request
 * pipeline (Kit's `Server#respond`, its cookie parsing and Set-Cookie handling), all in one
 * process. See README.md for the scenarios and the method.
 *
 * Options (all optional):
 *   --rounds N      measured rounds (default 80); each round runs one batch of every contender
 *   --batch-ms N    target duration of one batch in ms (default 40)
 *   --warmup N      unrecorded warm-up rounds (default 4)
 *   --only S2,S3    run only these scenarios
 *   --libs ours     time only these contenders (ids: none hand ours old skcs sks rr); for profiling
 *   --out FILE      where to write the JSON results (default results.json beside this file)
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH_DIR, ensureApp, ensureDist, loadServer } from './lib/prepare.mjs';
import { Jar } from './lib/jar.mjs';

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------
function option(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const ROUNDS = Number(option('rounds', 80));
const BATCH_MS = Number(option('batch-ms', 40));
const WARMUP_ROUNDS = Number(option('warmup', 4));
const ONLY = option('only', '')
	.split(',')
	.map((s) => s.trim())
	.filter(Boolean);
const LIBS = option('libs', '')
	.split(',')
	.map((s) => s.trim())
	.filter(Boolean);
const OUT = path.resolve(option('out', path.join(BENCH_DIR, 'results.json')));

const SCENARIOS = {
	S1: { op: 'none', title: 'anonymous visitor, session never touched (no cookie sent)' },
	S2: { op: 'read', title: 'read the counter with a valid session cookie' },
	S3: { op: 'incr', title: 'read + write (visit counter), cookie strategy' },
	S4: { op: 'incr', title: 'read + write (visit counter), memory store' },
	S5: { op: 'incr', title: 'read + write with ~3 KB of data, chunked cookies' }
};
const ORIGIN = 'http://localhost';

// ---------------------------------------------------------------------------------------------
// Set-up
// ---------------------------------------------------------------------------------------------
ensureDist();
ensureApp();
const { respond } = await loadServer();
const { loadLibraries, versionOf, BLOB } = await import('./lib/libraries.mjs');
const { libs, failed: loadFailures } = await loadLibraries();
const BLOB_LENGTH = JSON.stringify(BLOB).length;

const globals = globalThis;
function install(entry) {
	if (entry.handle) globals.__BENCH_HANDLE__ = entry.handle;
	else delete globals.__BENCH_HANDLE__;
	globals.__BENCH_OPS__ = entry.ops;
}

async function call(jar, op) {
	const cookie = jar.header();
	const response = await respond(new Request(`${ORIGIN}/${op}`, cookie ? { headers: { cookie } } : {}));
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
async function prime(scenario, entry) {
	install(entry);
	const jar = new Jar();
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
	return { cookie, note: `${jar.size} cookie(s), ${cookie.length} B Cookie header` };
}

/** After timing: the same request once more, to see the path timed still answered correctly. */
async function recheck(scenario, pair) {
	install(pair.entry);
	const op = pair.op;
	const response = await respond(new Request(`${ORIGIN}/${op}`, pair.cookie ? { headers: { cookie: pair.cookie } } : {}));
	const body = await response.json();
	if (response.status !== 200) throw new Error(`${scenario} ${pair.lib.id}: ${response.status}`);
	if (op === 'none') expect(`${scenario} ${pair.lib.id} after timing`, body.ok, true);
	if (op === 'read') expect(`${scenario} ${pair.lib.id} after timing`, body.views, 2);
	if (op === 'incr' && !(body.views >= 3)) throw new Error(`${scenario} ${pair.lib.id} after timing: views ${body.views}`);
	return response.headers.getSetCookie().length;
}

const pairs = [];
const skipped = [...loadFailures.map((f) => ({ scenario: '*', ...f }))];
for (const scenario of Object.keys(SCENARIOS)) {
	if (ONLY.length && !ONLY.includes(scenario)) continue;
	for (const lib of libs) {
		if (LIBS.length && !LIBS.includes(lib.id)) continue;
		const make = lib.scenarios[scenario];
		if (!make) {
			if (lib.unsupported?.[scenario]) skipped.push({ scenario, id: lib.id, reason: lib.unsupported[scenario] });
			continue;
		}
		try {
			const entry = make();
			const primed = await prime(scenario, entry);
			pairs.push({ scenario, lib, entry, op: SCENARIOS[scenario].op, cookie: primed.cookie, note: primed.note, batches: [] });
		} catch (error) {
			skipped.push({ scenario, id: lib.id, reason: `failed the correctness check: ${error?.message ?? error}` });
		}
	}
	// The pipeline floor of S2-S5: Kit alone, answering the same request (ours' Cookie header,
	// which Kit parses too) with a route that does no session work.
	const pipeline = libs.find((l) => l.kind === 'floor-pipeline');
	const oursPair = pairs.find((p) => p.scenario === scenario && p.lib.kind === 'ours');
	if (scenario !== 'S1' && pipeline && oursPair && (!LIBS.length || LIBS.includes('none'))) {
		const entry = pipeline.scenarios.S1();
		pairs.push({ scenario, lib: pipeline, entry, op: 'none', cookie: oursPair.cookie, note: "ours' Cookie header, route does no session work", batches: [] });
	}
}

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------
async function batch(pair, n) {
	install(pair.entry);
	const url = `${ORIGIN}/${pair.op}`;
	const init = pair.cookie ? { headers: { cookie: pair.cookie } } : undefined;
	const start = process.hrtime.bigint();
	for (let i = 0; i < n; i++) {
		const response = await respond(new Request(url, init));
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
function quantile(values, q) {
	const sorted = [...values].sort((a, b) => a - b);
	const pos = (sorted.length - 1) * q;
	const lo = Math.floor(pos);
	const hi = Math.ceil(pos);
	return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
for (const pair of pairs) {
	pair.median = quantile(pair.batches, 0.5);
	pair.p25 = quantile(pair.batches, 0.25);
	pair.p75 = quantile(pair.batches, 0.75);
}

const find = (scenario, id) => pairs.find((p) => p.scenario === scenario && p.lib.id === id);
function fastestPeer(scenario) {
	const peers = pairs.filter((p) => p.scenario === scenario && p.lib.kind === 'peer');
	return peers.sort((a, b) => a.median - b.median)[0];
}

const targets = [];
const pipelineOf = (s) => find(s, 'none');
/** Above the pipeline floor of the same scenario: what the session library itself adds. */
const over = (pair) => (pipelineOf(pair.scenario) ? pair.median - pipelineOf(pair.scenario).median : undefined);
function target(scenario, text, against, ok) {
	const mine = find(scenario, 'ours');
	const other = against === 'fastest peer' ? fastestPeer(scenario) : find(scenario, against);
	if (!mine || !other) {
		targets.push({ scenario, target: text, value: null, against: other?.lib.id ?? against, met: null });
		return;
	}
	const peerTarget = other.lib.kind === 'peer';
	// Peer targets: how many times faster ours is. Floor targets: how many times the floor ours costs.
	const value = peerTarget ? other.median / mine.median : mine.median / other.median;
	const entry = { scenario, target: text, value, against: other.lib.id, met: ok(value) };
	if (peerTarget) {
		const pipeline = pipelineOf(scenario);
		// For context only (not the target): the same ratio on cost above Kit's pipeline, and the
		// best end-to-end ratio possible at all (a library costing nothing: the pipeline floor).
		if (pipeline) {
			entry.overheadRatio = over(other) / over(mine);
			entry.ceiling = other.median / pipeline.median;
		}
	}
	targets.push(entry);
}
target('S1', 'ours <= 1.1x the no-library pipeline', 'none', (v) => v <= 1.1);
for (const s of ['S2', 'S3']) {
	target(s, '>= 8x faster than the fastest peer', 'fastest peer', (v) => v >= 8);
	target(s, 'ours <= 1.5x the node:crypto floor', 'hand', (v) => v <= 1.5);
}
target('S4', '>= 8x faster than the fastest peer', 'fastest peer', (v) => v >= 8);
target('S5', '>= 5x faster than the fastest peer', 'fastest peer', (v) => v >= 5);

const fmt = (v, d = 1) => (v === undefined || v === null || Number.isNaN(v) ? '-' : v.toFixed(d));
const lines = [];
lines.push(`Node ${process.version}, ${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}; ${ROUNDS} measured rounds after ${WARMUP_ROUNDS} warm-up, ~${BATCH_MS} ms batches; timing took ${elapsed.toFixed(0)} s`);
lines.push('µs per request: median of batch means (p25-p75 of batch means). "x ours": that row / ours.');
lines.push('"+pipe": median minus the no-library pipeline of the same scenario (the session work itself).');
for (const [scenario, { title }] of Object.entries(SCENARIOS)) {
	const rows = pairs.filter((p) => p.scenario === scenario).sort((a, b) => a.median - b.median);
	if (!rows.length) continue;
	const base = find(scenario, 'ours');
	lines.push('');
	lines.push(`${scenario}: ${title}`);
	lines.push(`  ${'contender'.padEnd(45)} ${'median'.padStart(7)} ${'p25-p75'.padStart(13)} ${'x ours'.padStart(6)} ${'+pipe'.padStart(6)} ${'Set-Cookie'.padStart(10)}  cookies sent`);
	for (const row of rows) {
		lines.push(
			`  ${row.lib.id.padEnd(5)} ${row.lib.label.slice(0, 39).padEnd(39)} ${fmt(row.median).padStart(7)} ${`${fmt(row.p25)}-${fmt(row.p75)}`.padStart(13)} ${(base ? fmt(row.median / base.median, 2) : '-').padStart(6)} ${fmt(over(row)).padStart(6)} ${String(row.setCookiesPerResponse).padStart(10)}  ${row.note}`
		);
	}
	for (const skip of skipped.filter((s) => s.scenario === scenario)) lines.push(`  ${skip.id.padEnd(5)} not run: ${skip.reason}`);
}
lines.push('');
lines.push('Targets (end-to-end medians above; "above pipeline" and "ceiling" are context, not the target):');
for (const t of targets) {
	const status = t.met === null ? 'n/a' : t.met ? 'MET' : 'MISSED';
	const context = t.ceiling !== undefined ? `   [above pipeline: ${fmt(t.overheadRatio, 1)}x; ceiling (peer / pipeline floor): ${fmt(t.ceiling, 2)}x]` : '';
	lines.push(`  ${t.scenario} ${t.target.padEnd(38)} ${fmt(t.value, 2).padStart(6)}x vs ${String(t.against).padEnd(5)} ${status.padEnd(6)}${context}`);
}
for (const skip of skipped.filter((s) => s.scenario === '*')) lines.push(`not loaded: ${skip.id}: ${skip.reason}`);
console.log(lines.join('\n'));

const versions = {};
for (const name of ['@sveltejs/kit', 'svelte', 'vite', 'old-svelte-dev-session', 'svelte-kit-cookie-session', 'svelte-kit-sessions', 'react-router']) {
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
			date: new Date().toISOString(),
			node: process.version,
			cpu: `${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}`,
			versions: { ours: oursVersion, ...versions },
			method: { rounds: ROUNDS, warmupRounds: WARMUP_ROUNDS, batchMs: BATCH_MS, measuredSeconds: elapsed, unit: 'µs per request, median of batch means' },
			results: pairs.map((p) => ({
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
				note: p.note
			})),
			skipped,
			targets
		},
		null,
		2
	) + '\n'
);
console.error(`[bench] wrote ${path.relative(process.cwd(), OUT) || OUT}`);
