/**
 * `npm run bench:workers`: S2 (a read with a valid session cookie) on the Web Crypto path, as on
 * Cloudflare Workers: worker/entry.js, bundled with esbuild the way Wrangler bundles a Worker, runs
 * in workerd (Miniflare 3) without nodejs_compat, so our package picks its Web Crypto signer.
 *
 * workerd's clocks stand still while a script runs, so each batch is timed from here: one
 * dispatchFetch runs N reads back to back inside the Worker, and the time of an empty batch
 * (n=0, the same dispatch with no request) is subtracted. Contenders run round-robin, starting one
 * further each round; the median of the per-request batch means is reported.
 *
 * Options: --rounds N (default 80), --n N requests per batch (default 2000), --libs ours,rr
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { listOption, option } from './lib/options.mjs';
import { CPU, machine } from './lib/machine.mjs';
import { median } from './lib/stats.mjs';
import { BENCH_DIR, ensureDist } from './lib/prepare.mjs';

const ROUNDS = Number(option('rounds', 80));
const N = Number(option('n', 2000));
const LIBS = listOption('libs', 'none,hand-wc,ours,ours-nomem,rr,skcs,old');
const LABELS = {
	none: 'floor: Kit cookie handling, no session library',
	'hand-wc': 'floor: by hand, Web Crypto HMAC (key imported once)',
	ours: '@svelte-dev/session (this repo)',
	'ours-nomem': '@svelte-dev/session, verified-signature memory off',
	old: '@svelte-dev/session@1.1.3',
	skcs: 'svelte-kit-cookie-session',
	rr: 'react-router 7 (createCookieSessionStorage)'
};
const OUT = path.join(BENCH_DIR, 'results-workers.json');

ensureDist();
const outfile = path.join(BENCH_DIR, 'worker', '.build', 'worker.js');
await build({
	entryPoints: [path.join(BENCH_DIR, 'worker', 'entry.js')],
	outfile,
	bundle: true,
	format: 'esm',
	// As Wrangler bundles a Worker: no Node built-ins assumed, Worker and browser builds preferred.
	platform: 'neutral',
	conditions: ['workerd', 'worker', 'browser'],
	mainFields: ['browser', 'module', 'main'],
	target: 'es2022',
	// Wrangler defines this too; react (a dependency of react-router) reads it.
	define: { 'process.env.NODE_ENV': '"production"' },
	logLevel: 'warning'
});

const mf = new Miniflare({
	modules: [{ type: 'ESModule', path: outfile }],
	modulesRoot: path.dirname(outfile),
	compatibilityDate: '2025-07-01',
	compatibilityFlags: [] // no nodejs_compat: the Web Crypto path
});

async function dispatch(pathAndQuery, headers = {}) {
	const response = await mf.dispatchFetch(`http://bench${pathAndQuery}`, { headers });
	const text = await response.text();
	if (response.status !== 200) throw new Error(`${pathAndQuery}: ${response.status} ${text.slice(0, 500)}`);
	return text;
}

try {
	const contenders = [];
	const failed = [];
	for (const id of LIBS) {
		try {
			const { cookie } = JSON.parse(await dispatch(`/prime?lib=${id}`));
			await dispatch(`/run?lib=${id}&n=50`, { 'x-bench-cookie': cookie }); // warm-up, checked
			contenders.push({ id, cookie, batches: [] });
		} catch (error) {
			failed.push({ id, reason: `failed the correctness check: ${error.message}` });
		}
	}
	/** One batch: wall time of n requests in one dispatch, in µs. */
	async function timed(contender, n) {
		const start = process.hrtime.bigint();
		await dispatch(`/run?lib=${contender.id}&n=${n}`, { 'x-bench-cookie': contender.cookie });
		return Number(process.hrtime.bigint() - start) / 1000;
	}
	const started = Date.now();
	for (let round = -3; round < ROUNDS; round++) {
		for (let k = 0; k < contenders.length; k++) {
			const contender = contenders[(k + Math.max(round, 0)) % contenders.length];
			const empty = await timed(contender, 0);
			const full = await timed(contender, N);
			if (round >= 0) contender.batches.push((full - empty) / N);
		}
	}
	const elapsed = (Date.now() - started) / 1000;

	for (const c of contenders) c.median = median(c.batches);
	const byId = Object.fromEntries(contenders.map((c) => [c.id, c]));
	const peers = contenders.filter((c) => ['old', 'skcs', 'rr'].includes(c.id)).sort((a, b) => a.median - b.median);
	const ours = byId.ours;
	const fastest = peers[0];
	const ratio = ours && fastest ? fastest.median / ours.median : null;

	const lines = [];
	lines.push(`S2 on the Web Crypto path: workerd (Miniflare 3), no nodejs_compat; Node ${process.version}, ${CPU}`);
	lines.push(`${ROUNDS} rounds of ${N} reads per contender, after 3 warm-up rounds; timing took ${elapsed.toFixed(0)} s. µs per request (median of batch means).`);
	for (const c of [...contenders].sort((a, b) => a.median - b.median)) {
		lines.push(`  ${c.id.padEnd(8)} ${LABELS[c.id].padEnd(52)} ${c.median.toFixed(1).padStart(7)}   x ours ${ours ? (c.median / ours.median).toFixed(2) : '-'}`);
	}
	for (const f of failed) lines.push(`  ${f.id.padEnd(8)} not run: ${f.reason}`);
	lines.push(`Target: ours >= 2x faster than the fastest peer: ${ratio === null ? 'n/a' : `${ratio.toFixed(2)}x vs ${fastest.id}  ${ratio >= 2 ? 'MET' : 'MISSED'}`}`);
	if (ours && byId['hand-wc']) lines.push(`Context: ours / hand-written Web Crypto floor: ${(ours.median / byId['hand-wc'].median).toFixed(2)}x`);
	const noMemory = byId['ours-nomem'];
	if (noMemory && fastest) lines.push(`Context: ours with the verified-signature memory off: ${(fastest.median / noMemory.median).toFixed(2)}x vs ${fastest.id}`);
	console.log(lines.join('\n'));
	writeFileSync(
		OUT,
		JSON.stringify(
			{
				...machine(),
				runtime: 'workerd via miniflare 3, compatibilityDate 2025-07-01, no compatibility flags',
				method: { rounds: ROUNDS, requestsPerBatch: N, unit: 'µs per request, median of batch means, empty dispatch subtracted' },
				results: contenders.map(({ id, median: m, batches }) => ({ id, label: LABELS[id], medianUs: m, batches })),
				failed,
				target: { text: 'ours >= 2x faster than the fastest peer', value: ratio, against: fastest?.id ?? null, met: ratio === null ? null : ratio >= 2 }
			},
			null,
			2
		) + '\n'
	);
} finally {
	await mf.dispose();
}
