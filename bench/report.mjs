/**
 * `npm run report`: writes the figures of the last runs (results.json, results-workers.json,
 * results-memory.json, results-http.json) into RESULTS.md, between the markers
 * `<!-- figures:begin -->` and `<!-- figures:end -->`; the text around them is kept. A results
 * file that is missing is said to be missing, never filled in.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DIR } from './lib/prepare.mjs';

const read = (name) => {
	const file = path.join(BENCH_DIR, name);
	return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
};
const f = (v, d = 1) => (v === null || v === undefined || Number.isNaN(v) ? '-' : v.toFixed(d));
const pct = (v) => (v === null || v === undefined ? '-' : `${(v * 100).toFixed(1)}%`);
const status = (met) => (met === null || met === undefined ? 'n/a' : met ? 'met' : '**missed**');
const out = [];

const main = read('results.json');
if (!main) out.push('`results.json` is missing: run `npm run bench`.');
else {
	out.push(`### Per request (\`npm run bench\`, ${main.date.slice(0, 10)})`);
	out.push('');
	out.push(`Node ${main.node}, ${main.cpu}. ${main.method.rounds} rounds after ${main.method.warmupRounds} warm-up, batches of ~${main.method.batchMs} ms; µs per request, median of batch means (25th-75th percentile).`);
	out.push(`Versions: ${Object.entries(main.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
	for (const mode of main.method.modes) {
		out.push('');
		out.push(`#### ${mode === 'layer' ? 'Session layer (the targets, except S1)' : "Whole SvelteKit pipeline (S1's target; the rest is context)"}`);
		out.push('');
		const scenarios = [...new Set(main.results.filter((r) => r.mode === mode).map((r) => r.scenario))];
		const ids = ['none', 'pass', 'hand', 'ours', 'ours-nomem', 'ours-wc', 'old', 'skcs', 'sks', 'rr'];
		out.push(`| contender | ${scenarios.join(' | ')} |`);
		out.push(`|---|${scenarios.map(() => '---:').join('|')}|`);
		for (const id of ids) {
			const cells = scenarios.map((s) => {
				const r = main.results.find((x) => x.mode === mode && x.scenario === s && x.id === id);
				if (r) return `${f(r.medianUs)} (${f(r.p25Us)}-${f(r.p75Us)})`;
				const skip = main.skipped.find((x) => x.scenario === s && x.id === id && (x.mode === undefined || x.mode === mode));
				return skip ? 'not run' : '';
			});
			if (cells.some((c) => c && c !== 'not run')) out.push(`| ${id} | ${cells.join(' | ')} |`);
		}
		out.push('');
		out.push('| target | value | against | status | above the floor | ceiling |');
		out.push('|---|---:|---|---|---:|---:|');
		for (const t of main.targets.filter((x) => x.mode === mode)) {
			const unit = t.against === 'redis' ? ' round trips' : '×';
			out.push(`| ${t.scenario}: ${t.target} | ${f(t.value, 2)}${unit} | ${t.against === 'redis' ? 'Redis MONITOR' : t.against} | ${t.context ? 'context' : status(t.met)} | ${t.aboveFloor === undefined ? '' : `${f(t.aboveFloor, 1)}×`} | ${t.ceiling === undefined ? '' : `${f(t.ceiling, 2)}×`} |`);
		}
	}
	const s6 = main.results.filter((r) => r.scenario === 'S6' && r.redis && r.mode === main.method.modes[0]);
	if (s6.length) {
		out.push('');
		out.push('Redis commands per request (S6, from `MONITOR`; `lua:` = run inside a script, not a round trip):');
		out.push('');
		for (const r of s6) {
			const list = (c) => Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ');
			out.push(`- ${r.id}: read: ${list(r.redis.read.commands)}; write: ${list(r.redis.write.commands)}`);
		}
	}
	const notRun = main.skipped.filter((s, i, all) => s.id !== '*' && all.findIndex((o) => o.scenario === s.scenario && o.id === s.id) === i);
	if (notRun.length) {
		out.push('');
		out.push('Not run:');
		out.push('');
		for (const s of notRun) out.push(`- ${s.scenario} ${s.id}: ${s.reason}`);
	}
}

const workers = read('results-workers.json');
out.push('');
out.push('### S2 on the Web Crypto path, inside workerd (`npm run bench:workers`)');
out.push('');
if (!workers) out.push('`results-workers.json` is missing: run `npm run bench:workers`.');
else {
	out.push(`${workers.date.slice(0, 10)}, ${workers.runtime}; ${workers.method.rounds} rounds of ${workers.method.requestsPerBatch} reads; µs per request.`);
	out.push('');
	out.push('| contender | µs | × ours |');
	out.push('|---|---:|---:|');
	const ours = workers.results.find((r) => r.id === 'ours');
	for (const r of [...workers.results].sort((a, b) => a.medianUs - b.medianUs)) out.push(`| ${r.id}: ${r.label} | ${f(r.medianUs)} | ${ours ? f(r.medianUs / ours.medianUs, 2) : '-'} |`);
	for (const r of workers.failed) out.push(`| ${r.id} | not run: ${r.reason} | |`);
	out.push('');
	out.push(`Target, ${workers.target.text}: ${f(workers.target.value, 2)}× against ${workers.target.against}, ${status(workers.target.met)}.`);
}

const memory = read('results-memory.json');
out.push('');
out.push('### Memory (`npm run bench:memory`)');
out.push('');
if (!memory) out.push('`results-memory.json` is missing: run `npm run bench:memory`.');
else {
	const heap = memory.heap.results;
	out.push(`${memory.date.slice(0, 10)}, Node ${memory.node}: ${memory.heap.sessions.toLocaleString('en')} sessions of \`${memory.heap.data}\`, ${memory.heap.lifetime} lifetime, each store in its own process.`);
	out.push('');
	out.push('| store | bytes per session | × ours | how it was filled |');
	out.push('|---|---:|---:|---|');
	const ours = heap.find((h) => h.id === 'ours');
	for (const h of heap) {
		const bytes = h.bytesPerSession === undefined ? `not measured: ${h.error ?? ''}` : f(h.bytesPerSession);
		out.push(`| ${h.id}: ${h.label} | ${bytes} | ${ours && h.bytesPerSession ? f(h.bytesPerSession / ours.bytesPerSession, 2) : ''} | ${h.path} |`);
	}
	const churn = memory.churn;
	if (churn) {
		const m = churn.method;
		out.push('');
		out.push(`Churn: ${f(churn.seconds, 0)} s, ${m.rate} sessions/s created with ${m.lifetimeMs.map((x) => x / 1000).join('-')} s lifetimes (sweep every ${m.sweepIntervalS} s), ${churn.counts.reads.toLocaleString('en')} reads, ${churn.counts.writes.toLocaleString('en')} writes, ${churn.counts.deletes.toLocaleString('en')} deletes.`);
		out.push(`Heap after gc(), every ${m.sampleMs / 1000} s (MB): ${churn.samples.map((x) => f(x.heapUsed / 1e6, 2)).join(', ')}.`);
		out.push(`Verdict: **${churn.verdict}**: the late median is ${pct(churn.growth)} off the early one (at most ${pct(m.maxGrowth)}), slope ${f(churn.bytesPerSecond, 0)} B/s (at most ${m.maxSlopeBytesPerS}).`);
	}
}

const http = read('results-http.json');
out.push('');
out.push('### HTTP (`npm run bench:http`)');
out.push('');
if (!http) out.push('`results-http.json` is missing: run `npm run bench:http`.');
else {
	out.push(`${http.date.slice(0, 10)}; SvelteKit ${http.versions.kit} with adapter-node, autocannon ${http.versions.autocannon}; ${http.versions.source}.`);
	out.push('');
	out.push('| route | config | req/s (median) | server CPU per request |');
	out.push('|---|---|---:|---:|');
	for (const s of http.summary) out.push(`| ${s.route} \`${s.path}\` | ${s.config} | ${f(s.medianRps, 0)} | ${f(s.medianServerCpuUsPerRequest, 0)} µs |`);
	out.push('');
	out.push('| overhead of the session | paired median | of the medians | from CPU |');
	out.push('|---|---:|---:|---:|');
	for (const o of http.overhead) out.push(`| ${o.route}, ${o.config} | ${pct(o.overhead)} | ${pct(o.ofMedians)} | ${pct(o.cpuOverhead)} |`);
	out.push('');
	for (const t of http.targets) {
		const how = t.interval ? `95% interval of the median ${pct(t.interval[0])} to ${pct(t.interval[1])}` : `pairs spread over ${pct(t.spread)}`;
		out.push(`- ${t.target}: ${pct(t.value)} (${how}), ${t.met === null ? 'inconclusive: the interval straddles 10%' : status(t.met)}`);
	}
	for (const p of http.problems ?? []) out.push(`- problem: ${p}`);
}

const file = path.join(BENCH_DIR, 'RESULTS.md');
const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Results\n\n<!-- figures:begin -->\n<!-- figures:end -->\n';
const begin = '<!-- figures:begin -->';
const end = '<!-- figures:end -->';
if (!text.includes(begin) || !text.includes(end)) throw new Error(`RESULTS.md has no ${begin} ... ${end} markers`);
writeFileSync(file, `${text.slice(0, text.indexOf(begin) + begin.length)}\n${out.join('\n')}\n${text.slice(text.indexOf(end))}`);
console.log(`wrote ${path.relative(process.cwd(), file) || file}`);
