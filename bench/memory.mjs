/**
 * `npm run bench:memory`: the memory of the memory store, in two parts.
 *
 *   heap   Heap per session: N small sessions created in one store, heap used after a full GC
 *          minus before, over N. Ours (`MemoryStrategy`) and, for context, the peers' memory
 *          stores; each store in its own child process, so one never weighs on another.
 *   churn  Sessions created, read, changed, destroyed and expiring for minutes in one
 *          `MemoryStrategy`, the heap sampled after a full GC every 5 s: is it flat?
 *
 * Options (all optional):
 *   --sessions N        sessions per store in the heap part (default 1000000)
 *   --churn-seconds N   duration of the churn part (default 180)
 *   --only heap|churn   run only one part
 *
 * Writes results-memory.json beside this file. Needs `--expose-gc` only in the children, which
 * it starts itself (`node --expose-gc memory.mjs --child <store|churn>`).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { option } from './lib/options.mjs';
import { machine } from './lib/machine.mjs';
import { median } from './lib/stats.mjs';
import { BENCH_DIR, REPO_DIR, ensureDist } from './lib/prepare.mjs';

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------
const SESSIONS = Number(option('sessions', 1_000_000));
const CHURN_SECONDS = Number(option('churn-seconds', 180));
const ONLY = option('only', '');
const CHILD = option('child', '');
const OUT = path.join(BENCH_DIR, 'results-memory.json');

const SECRET = 'bench-secret-0123456789abcdefABC';
const WEEK = 60 * 60 * 24 * 7;

// Churn: what a busy app sees. Created sessions live 1-3 s (2 s on average), so the write-ordered
// map's head does not always expire first and the sweep has work too.
const RATE = 10_000; // sessions created per second
const LIFETIME_MS = [1000, 3000];
const SWEEP_SECONDS = 1;
const SAMPLE_MS = 5000;
/** Clients come back with the ids of the last 3 s: live, expired, destroyed alike. */
const RING = 3 * RATE;
/** Warm-up: two of the longest expiry periods; samples before it are not judged. */
const WARMUP_S = (2 * LIFETIME_MS[1]) / 1000;
/**
 * Flat: the late heap at most 10% above the early one, and the slope under 2 KB/s. At 10,000
 * sessions a second that is 0.2 B per session created: a leak of one bare record (a map slot and
 * its 24-character id, ~100 B) for one session in 500 would exceed it. It is above the noise: in
 * flat 3-minute runs the samples after gc() stayed within ~0.25 MB (the live records vary by a few
 * hundred, and the heap takes one-off steps of ~0.1 MB), the fitted slope within ±1.2 KB/s.
 */
const MAX_GROWTH = 0.1;
const MAX_SLOPE = 2000;

/** Packages whose `exports` only have a `svelte` condition (plain Node cannot resolve them). */
const svelteEntry = (name) => pathToFileURL(path.join(BENCH_DIR, 'node_modules', name, 'dist', 'index.js')).href;
const versionOf = (name) => JSON.parse(readFileSync(path.join(BENCH_DIR, 'node_modules', name, 'package.json'), 'utf8')).version;

async function ourStrategy(options) {
	const { createSessionContainer, Tokens } = await import(pathToFileURL(path.join(REPO_DIR, 'dist', 'index.js')).href);
	// As handleSession() builds it: its own container, the system clock, nanoid ids.
	const container = createSessionContainer({ adapter: { name: 'memory', options }, session: { secrets: [SECRET] } });
	return container.resolve(Tokens.Strategy);
}

/**
 * The stores of the heap part. open() gives create(data, expires) -> key, read(key) -> data and,
 * where the store tells, size(): each through the store's own public API.
 */
const STORES = {
	ours: {
		label: '@svelte-dev/session MemoryStrategy (this repo)',
		path: 'strategy.createData(data, expires), the strategy from createSessionContainer()',
		async open() {
			const strategy = await ourStrategy({});
			return {
				create: (data, expires) => strategy.createData(data, expires),
				read: (id) => strategy.readData(id),
				size: () => strategy.size,
				close: () => strategy.dispose()
			};
		}
	},
	old: {
		label: '@svelte-dev/session@1.1.3 MemoryStrategy',
		path: 'new MemoryStrategy().createData(data, expires)',
		async open() {
			const { MemoryStrategy } = await import(svelteEntry('old-svelte-dev-session'));
			const strategy = new MemoryStrategy();
			return { create: (data, expires) => strategy.createData(data, expires), read: (id) => strategy.readData(id) };
		}
	},
	sks: {
		label: 'svelte-kit-sessions@0.4 MemoryStore',
		path: 'Session.initialize() + setData() + save() with a stub event.cookies (save() signs the id: WebCrypto HMAC)',
		async open() {
			const { Session, MemoryStore } = await import(svelteEntry('svelte-kit-sessions'));
			const store = new MemoryStore();
			const options = { secret: SECRET, store, cookie: { path: '/', httpOnly: true, sameSite: 'lax', maxAge: WEEK } };
			const event = { cookies: { get: () => undefined, set: () => {} } };
			return {
				// Its lifetime is the cookie's maxAge, not a per-call expiry.
				create: async (data) => {
					const session = await Session.initialize(event, options);
					await session.setData(data);
					await session.save();
					return session.id;
				},
				read: async (id) => (await store.get(id))?.data
			};
		}
	},
	rr: {
		label: 'react-router@7 createMemorySessionStorage',
		path: 'getSession() + set() + commitSession() (signs the cookie: WebCrypto HMAC); its createData is internal',
		async open() {
			const { createMemorySessionStorage } = await import('react-router');
			const storage = createMemorySessionStorage({
				cookie: { name: '__session', secrets: [SECRET], path: '/', httpOnly: true, sameSite: 'lax', maxAge: WEEK, secure: false }
			});
			return {
				// Its expiry is the cookie's maxAge; the key is the Cookie header a browser would send back.
				create: async (data) => {
					const session = await storage.getSession(null);
					for (const [key, value] of Object.entries(data)) session.set(key, value);
					return (await storage.commitSession(session)).split(';')[0];
				},
				read: async (cookie) => (await storage.getSession(cookie)).data
			};
		}
	}
};

// ---------------------------------------------------------------------------------------------
// Children (node --expose-gc memory.mjs --child <store|churn>): print one JSON line on stdout
// ---------------------------------------------------------------------------------------------
function heapAfterGc() {
	globalThis.gc();
	return process.memoryUsage().heapUsed;
}

async function heapChild(id) {
	const store = await STORES[id].open();
	const before = heapAfterGc();
	const start = process.hrtime.bigint();
	let first;
	let last;
	for (let i = 0; i < SESSIONS; i++) {
		last = await store.create({ views: 1, user: `u${i}` }, new Date(Date.now() + WEEK * 1000));
		first ??= last;
	}
	const seconds = Number(process.hrtime.bigint() - start) / 1e9;
	const after = heapAfterGc();
	// Checked after the measurement: the store kept what it was given.
	const [a, b] = [await store.read(first), await store.read(last)];
	if (a?.user !== 'u0' || b?.user !== `u${SESSIONS - 1}`) throw new Error(`${id}: read back ${JSON.stringify([a, b])}`);
	store.close?.();
	return { id, bytesPerSession: (after - before) / SESSIONS, heapBefore: before, heapAfter: after, rss: process.memoryUsage().rss, seconds, held: store.size?.() ?? null };
}

async function churnChild() {
	const strategy = await ourStrategy({ sweepInterval: SWEEP_SECONDS });
	const ring = [];
	const pick = () => ring[Math.floor(Math.random() * ring.length)];
	const counts = { created: 0, reads: 0, found: 0, writes: 0, deletes: 0 };
	/** One visitor's first request, and returning clients: 2 reads, 1/4 write, 1/20 log out. */
	async function step(i) {
		const now = Date.now();
		const lifetime = LIFETIME_MS[0] + Math.random() * (LIFETIME_MS[1] - LIFETIME_MS[0]);
		ring[i % RING] = await strategy.createData({ views: 1, user: `u${i}` }, new Date(now + lifetime));
		for (let r = 0; r < 2; r++) if (await strategy.readData(pick())) counts.found++;
		counts.reads += 2;
		if (i % 4 === 0) {
			await strategy.applyChanges(pick(), new Map([['views', i]]), new Date(now + 2000));
			counts.writes++;
		}
		if (i % 20 === 0) {
			await strategy.deleteData(pick());
			counts.deletes++;
		}
	}
	const samples = [];
	const start = performance.now();
	let nextSample = SAMPLE_MS;
	for (let elapsed = 0; elapsed < CHURN_SECONDS * 1000; elapsed = performance.now() - start) {
		if (elapsed >= nextSample) {
			const sample = { t: elapsed / 1000, heapUsed: heapAfterGc(), records: strategy.size, created: counts.created };
			samples.push(sample);
			console.error(`[memory] churn ${sample.t.toFixed(0)} s: heap ${(sample.heapUsed / 1e6).toFixed(2)} MB, ${sample.records} records, ${sample.created} created`);
			nextSample += SAMPLE_MS;
		}
		// Paced to RATE; at most 500 sessions per turn, then the event loop runs (timers, the sweep).
		const due = Math.min(Math.floor((elapsed * RATE) / 1000) - counts.created, 500);
		for (let k = 0; k < due; k++) await step(counts.created++);
		await new Promise((resolve) => (due > 0 ? setImmediate(resolve) : setTimeout(resolve, 1)));
	}
	strategy.dispose();
	return { seconds: (performance.now() - start) / 1000, counts, samples };
}

if (CHILD) {
	if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
	const result = CHILD === 'churn' ? await churnChild() : await heapChild(CHILD);
	process.stdout.write(`${JSON.stringify(result)}\n`);
	process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Parent: one child per store, then the churn child
// ---------------------------------------------------------------------------------------------
function child(name) {
	const args = ['--expose-gc', fileURLToPath(import.meta.url), '--child', name, '--sessions', String(SESSIONS), '--churn-seconds', String(CHURN_SECONDS)];
	const run = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
	if (run.status !== 0) throw new Error(`child ${name} exited with ${run.status ?? run.signal}`);
	return JSON.parse(run.stdout.trim().split('\n').pop());
}

/** Least-squares slope of y over x. */
function slope(points) {
	const n = points.length;
	const mx = points.reduce((s, p) => s + p.x, 0) / n;
	const my = points.reduce((s, p) => s + p.y, 0) / n;
	const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
	const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
	return sxy / sxx;
}

function judge(samples) {
	const early = samples.filter((s) => s.t >= WARMUP_S && s.t <= CHURN_SECONDS / 3);
	const late = samples.filter((s) => s.t >= (2 * CHURN_SECONDS) / 3);
	const judged = samples.filter((s) => s.t >= WARMUP_S);
	if (!early.length || !late.length || judged.length < 3) return { verdict: 'too short to judge', early: early.length, late: late.length };
	const earlyMedian = median(early.map((s) => s.heapUsed));
	const lateMedian = median(late.map((s) => s.heapUsed));
	const growth = lateMedian / earlyMedian - 1;
	const bytesPerSecond = slope(judged.map((s) => ({ x: s.t, y: s.heapUsed })));
	const recordsPerSecond = slope(judged.map((s) => ({ x: s.t, y: s.records })));
	const flat = growth <= MAX_GROWTH && bytesPerSecond < MAX_SLOPE;
	return { verdict: flat ? 'flat' : 'GROWS', earlyMedian, lateMedian, growth, bytesPerSecond, recordsPerSecond, early: early.length, late: late.length };
}

ensureDist();
const mb = (bytes) => (bytes / 1e6).toFixed(2);
const lines = [];
const output = {
	...machine(),
	versions: {
		ours: JSON.parse(readFileSync(path.join(REPO_DIR, 'package.json'), 'utf8')).version,
		...Object.fromEntries(['old-svelte-dev-session', 'svelte-kit-sessions', 'react-router', '@isaacs/ttlcache'].map((n) => [n, versionOf(n)]))
	}
};
lines.push(`Node ${process.version}, ${output.cpu}`);

if (ONLY !== 'churn') {
	const results = [];
	const notRun = [];
	for (const id of Object.keys(STORES)) {
		console.error(`[memory] heap: ${id}, ${SESSIONS} sessions`);
		try {
			results.push({ ...child(id), label: STORES[id].label, path: STORES[id].path });
		} catch (error) {
			notRun.push({ id, reason: error?.message ?? String(error) });
		}
	}
	const ours = results.find((r) => r.id === 'ours');
	for (const r of results) r.ratioToOurs = ours ? r.bytesPerSession / ours.bytesPerSession : null;
	output.heap = { sessions: SESSIONS, data: "{ views: 1, user: 'u' + i }", lifetime: '1 week', results, notRun };

	lines.push('');
	lines.push(`Heap per session: ${SESSIONS} sessions of { views: 1, user: 'u' + i }, 1-week lifetime; each store in its own process,`);
	lines.push('heap used after gc() minus before, over the sessions. "time" is the whole create path (see "how").');
	lines.push(`  ${'store'.padEnd(52)} ${'B/session'.padStart(9)} ${'x ours'.padStart(6)} ${'heap MB'.padStart(8)} ${'RSS MB'.padStart(8)} ${'time s'.padStart(6)}  how`);
	for (const r of results) {
		lines.push(
			`  ${r.id.padEnd(5)} ${r.label.padEnd(46)} ${r.bytesPerSession.toFixed(1).padStart(9)} ${(r.ratioToOurs?.toFixed(2) ?? '-').padStart(6)} ${mb(r.heapAfter).padStart(8)} ${mb(r.rss).padStart(8)} ${r.seconds.toFixed(1).padStart(6)}  ${r.path}`
		);
	}
	for (const n of notRun) lines.push(`  ${n.id.padEnd(5)} not measured: ${n.reason}`);
}

if (ONLY !== 'heap') {
	console.error(`[memory] churn: ${CHURN_SECONDS} s at ${RATE} sessions/s`);
	const churn = child('churn');
	const verdict = judge(churn.samples);
	output.churn = {
		method: { rate: RATE, lifetimeMs: LIFETIME_MS, sweepIntervalS: SWEEP_SECONDS, sampleMs: SAMPLE_MS, warmupS: WARMUP_S, maxGrowth: MAX_GROWTH, maxSlopeBytesPerS: MAX_SLOPE },
		...churn,
		...verdict
	};

	lines.push('');
	lines.push(`Churn: ${CHURN_SECONDS} s, ${RATE} sessions/s created with 1-3 s lifetimes, sweepInterval ${SWEEP_SECONDS} s; per session created`);
	lines.push('2 reads of recent ids (live or not), 1/4 a write (applyChanges, 2 s), 1/20 a delete. Heap after gc() every 5 s.');
	const c = churn.counts;
	lines.push(`  done: ${c.created} created (${(c.created / churn.seconds).toFixed(0)}/s), ${c.reads} reads (${c.found} found), ${c.writes} writes, ${c.deletes} deletes`);
	lines.push(`  ${'t s'.padStart(5)} ${'heap MB'.padStart(8)} ${'records'.padStart(8)} ${'created'.padStart(9)}`);
	for (const s of churn.samples) lines.push(`  ${s.t.toFixed(0).padStart(5)} ${mb(s.heapUsed).padStart(8)} ${String(s.records).padStart(8)} ${String(s.created).padStart(9)}`);
	if (verdict.growth === undefined) {
		lines.push(`  verdict: ${verdict.verdict} (warm-up ${WARMUP_S} s; ${verdict.early} early and ${verdict.late} late samples)`);
	} else {
		lines.push(
			`  early median (t ${WARMUP_S}-${(CHURN_SECONDS / 3).toFixed(0)} s, ${verdict.early} samples) ${mb(verdict.earlyMedian)} MB; late median (last third, ${verdict.late} samples) ${mb(verdict.lateMedian)} MB; growth ${(verdict.growth * 100).toFixed(1)}% (max ${MAX_GROWTH * 100}%)`
		);
		lines.push(`  slope after warm-up: ${verdict.bytesPerSecond.toFixed(0)} B/s (max ${MAX_SLOPE}), records ${verdict.recordsPerSecond.toFixed(1)}/s`);
		lines.push(`  verdict: ${verdict.verdict}`);
	}
}

console.log(lines.join('\n'));
writeFileSync(OUT, `${JSON.stringify(output, null, 2)}\n`);
console.error(`[memory] wrote ${path.relative(process.cwd(), OUT) || OUT}`);
