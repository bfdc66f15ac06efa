/**
 * `npm run bench:http`: requests per second of the demo app (examples/demo: SvelteKit built with
 * adapter-node) served as a real HTTP server process on 127.0.0.1, under autocannon load, with
 * the session library (SESSION_ADAPTER=cookie, memory) and without it (SESSION_ADAPTER=none: the
 * demo's baseline, a per-request Map and no cookie; see examples/demo/src/hooks.server.ts).
 *
 * Routes, every request sending a valid session cookie (the same one to the baseline):
 *   reads       GET /session  the root layout's load reads locals.session.data, writes nothing
 *   read+write  GET /         the visit counter: reads and writes the session on every request
 *
 * The servers and autocannon (in this process) share the machine's cores, so runs are noisy:
 * every server is started once and warmed up, then each round runs every config on every route
 * once (one server under load at a time, the config order rotating each round), and the report
 * gives the median req/s over the rounds and the session's overhead: per round, 1 -
 * rps(config)/rps(none) of the two runs of that round (seconds apart, so that the host's slow
 * swings cancel), and the median of those; also the server process's CPU time per request
 * (Linux /proc).
 * Before each run a new session is started with a GET /, so that the demo's rolling refresh (at
 * most once a minute) does not fall in a run of reads; any Set-Cookie seen on reads is counted
 * and reported.
 *
 * Options (all optional):
 *   --seconds N      length of one timed run (default 5)
 *   --rounds N       rounds (default 120: about 70 minutes; at 30 the interval on this VM straddled 10%)
 *   --connections N  autocannon connections (default 10; pipelining 1)
 *   --configs LIST   SESSION_ADAPTER values (default cookie,memory,none; none is the baseline)
 *   --warmup N       seconds of unrecorded load per route once a server has started (default 5)
 *   --no-build       use the existing examples/demo/build (default: build dist/ and the demo)
 *   --out FILE       where to write the JSON results (default results-http.json beside this file)
 */
import autocannon from 'autocannon';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Jar } from './lib/jar.mjs';
import { listOption, option } from './lib/options.mjs';
import { CPU, machine } from './lib/machine.mjs';
import { median, medianInterval, quantile } from './lib/stats.mjs';
import { BENCH_DIR, REPO_DIR } from './lib/prepare.mjs';

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------
const SECONDS = Number(option('seconds', 5));
const ROUNDS = Number(option('rounds', 120));
const CONNECTIONS = Number(option('connections', 10));
const WARMUP = Number(option('warmup', 5));
const CONFIGS = listOption('configs', 'cookie,memory,none');
const BUILD = !process.argv.includes('--no-build');
const OUT = path.resolve(option('out', path.join(BENCH_DIR, 'results-http.json')));

const DEMO_DIR = path.join(REPO_DIR, 'examples', 'demo');
const SECRET = 'bench-http-secret-0123456789abcdefghijk';
const ROUTES = [
	{ id: 'reads', path: '/session' },
	{ id: 'read+write', path: '/' }
];
const BASELINE = 'none';
const withSession = CONFIGS.filter((c) => c !== BASELINE);

// ---------------------------------------------------------------------------------------------
// The servers: `node build/index.js` of the demo, one per config, stopped however we exit
// ---------------------------------------------------------------------------------------------
const servers = [];

function freePort() {
	return new Promise((resolve, reject) => {
		const probe = net.createServer();
		probe.once('error', reject);
		probe.listen(0, '127.0.0.1', () => {
			const { port } = probe.address();
			probe.close(() => resolve(port));
		});
	});
}

async function startServer(config) {
	const port = await freePort();
	const url = `http://127.0.0.1:${port}`;
	const child = spawn(process.execPath, [path.join(DEMO_DIR, 'build', 'index.js')], {
		cwd: DEMO_DIR,
		env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), ORIGIN: url, SESSION_ADAPTER: config, SESSION_SECRET: SECRET },
		stdio: ['ignore', 'pipe', 'pipe']
	});
	const server = { config, url, child, output: '', exited: new Promise((resolve) => child.once('exit', resolve)) };
	servers.push(server);
	child.stdout.on('data', (chunk) => (server.output += chunk));
	child.stderr.on('data', (chunk) => (server.output += chunk));
	await new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`${config}: the demo did not start within 20 s:\n${server.output}`)), 20_000);
		child.stdout.on('data', () => /Listening on/.test(server.output) && (clearTimeout(timer), resolve()));
		child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`${config}: the demo exited with ${code}:\n${server.output}`))));
	});
	return server;
}

async function stopServers() {
	const running = servers.filter((s) => s.child.exitCode === null && s.child.signalCode === null);
	for (const server of running) server.child.kill('SIGTERM');
	await Promise.all(running.map((s) => s.exited));
}
process.on('exit', () => {
	for (const server of servers) if (server.child.exitCode === null) server.child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
	process.on(signal, () => stopServers().then(() => process.exit(130)));
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------------------------
/** One GET as a browser would send it: the jar's cookies (or `cookie`), and Set-Cookie stored back. */
async function get(server, route, { jar, cookie = jar?.header() } = {}) {
	const response = await fetch(server.url + route, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
	jar?.store(response);
	const html = await response.text();
	if (response.status !== 200) throw new Error(`${server.config} GET ${route}: ${response.status}\n${html.slice(0, 300)}`);
	return { html, setCookies: response.headers.getSetCookie().length, views: Number(/<strong id="views">(\d+)</.exec(html)?.[1]) };
}

function expect(what, actual, expected) {
	if (actual !== expected) throw new Error(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

/**
 * CPU time the server process has used, in ms (user + system, from /proc: Linux only; null
 * elsewhere). Per request it is steadier than req/s when other processes share the cores.
 */
const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
function cpuMs(server) {
	try {
		const stat = readFileSync(`/proc/${server.child.pid}/stat`, 'utf8');
		const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
	} catch {
		return null;
	}
}

/** autocannon on one route; counts the responses that carry a Set-Cookie. */
async function load(server, route, seconds, cookie) {
	let setCookieResponses = 0;
	const cpuBefore = cpuMs(server);
	const result = await autocannon({
		url: server.url + route.path,
		connections: CONNECTIONS,
		pipelining: 1,
		duration: seconds,
		headers: cookie ? { cookie } : {},
		setupClient(client) {
			client.on('headers', ({ headers }) => {
				for (let i = 0; i < headers.length; i += 2) {
					if (headers[i].toLowerCase() === 'set-cookie') {
						setCookieResponses++;
						break;
					}
				}
			});
		}
	});
	const cpuAfter = cpuMs(server);
	return {
		rps: result.requests.average,
		serverCpuUsPerRequest: cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) * 1000) / result.requests.total,
		requests: result.requests.total,
		latencyMs: result.latency.average,
		non2xx: result.non2xx,
		errors: result.errors,
		timeouts: result.timeouts,
		setCookieResponses
	};
}

// ---------------------------------------------------------------------------------------------
// Build, start, check
// ---------------------------------------------------------------------------------------------
if (BUILD) {
	console.error('[bench:http] building dist/ and the demo: node scripts/demo.mjs --build-only');
	const built = spawnSync(process.execPath, [path.join(REPO_DIR, 'scripts', 'demo.mjs'), '--build-only'], { stdio: ['ignore', 2, 2] });
	if (built.status !== 0) throw new Error(`the build failed (exit ${built.status})`);
}

const checks = [];
const runs = [];
const problems = [];
const jars = new Map();
let started;
let loadBefore;
try {
	for (const config of CONFIGS) await startServer(config);
	const server = (config) => servers.find((s) => s.config === config);
	/** The Cookie header every request of a run sends: the baseline gets the first session config's. */
	const cookieFor = (config) => jars.get(config === BASELINE ? withSession[0] : config)?.header();

	// Correctness over HTTP, before any timing.
	for (const config of withSession) {
		const jar = new Jar();
		jars.set(config, jar);
		const first = await get(server(config), '/', { jar });
		expect(`${config}: GET / without a cookie, views`, first.views, 1);
		expect(`${config}: GET / without a cookie, a session cookie set`, first.setCookies > 0, true);
		expect(`${config}: GET / again with that cookie, views`, (await get(server(config), '/', { jar })).views, 2);
		const read = await get(server(config), '/session', { jar });
		expect(`${config}: GET /session, Set-Cookie headers`, read.setCookies, 0);
		expect(`${config}: GET /session shows the session`, read.html.includes('"views": 2'), true);
		checks.push(`${config}: GET / -> views 1 (Set-Cookie), GET / with it -> views 2, GET /session -> "views": 2, no Set-Cookie`);
	}
	if (CONFIGS.includes(BASELINE)) {
		const cookie = cookieFor(BASELINE);
		for (let i = 0; i < 2; i++) {
			const home = await get(server(BASELINE), '/', { cookie });
			expect(`${BASELINE}: GET / (request ${i + 1}), views`, home.views, 1);
			expect(`${BASELINE}: GET /, Set-Cookie headers`, home.setCookies, 0);
		}
		const read = await get(server(BASELINE), '/session', { cookie });
		expect(`${BASELINE}: GET /session, Set-Cookie headers`, read.setCookies, 0);
		expect(`${BASELINE}: GET /session shows an empty session`, read.html.includes('<pre id="session">{}</pre>'), true);
		checks.push(`${BASELINE}: GET / twice -> views 1 both times, GET /session -> {}, no Set-Cookie at all`);
	}
	for (const line of checks) console.error(`[bench:http] ok  ${line}`);

	/**
	 * A new session (GET / without a cookie) before each run: its cookie was just issued, so no
	 * rolling refresh is due during the run (the demo's rolling interval is a minute).
	 */
	async function refresh(config) {
		if (config === BASELINE) return;
		const jar = new Jar();
		await get(server(config), '/', { jar });
		jars.set(config, jar);
	}

	console.error(`[bench:http] warm-up: ${WARMUP} s per route and server`);
	for (const config of CONFIGS) {
		for (const route of ROUTES) {
			await refresh(config);
			await load(server(config), route, WARMUP, cookieFor(config));
		}
	}

	console.error(`[bench:http] ${ROUNDS} rounds x ${CONFIGS.length} configs x ${ROUTES.length} routes x ${SECONDS} s`);
	started = Date.now();
	loadBefore = os.loadavg()[0];
	for (let round = 0; round < ROUNDS; round++) {
		for (const route of ROUTES) {
			for (let k = 0; k < CONFIGS.length; k++) {
				const config = CONFIGS[(k + round) % CONFIGS.length];
				await refresh(config);
				const run = { round, config, route: route.id, ...(await load(server(config), route, SECONDS, cookieFor(config))) };
				runs.push(run);
				console.error(`[bench:http] round ${round + 1} ${route.id.padEnd(10)} ${config.padEnd(6)} ${run.rps.toFixed(0).padStart(6)} req/s`);
			}
		}
	}

	// After the load, the last session's counter still counts.
	for (const config of withSession) {
		const before = (await get(server(config), '/', { jar: jars.get(config) })).views;
		expect(`${config}: GET / after the runs, counter goes on`, (await get(server(config), '/', { jar: jars.get(config) })).views, before + 1);
		checks.push(`${config}: after the runs, GET / twice with the last run's cookie -> views ${before} then ${before + 1}`);
	}
} finally {
	await stopServers();
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------
for (const run of runs) {
	const what = `round ${run.round + 1} ${run.route} ${run.config}`;
	if (run.non2xx || run.errors || run.timeouts) problems.push(`${what}: ${run.non2xx} non-2xx, ${run.errors} errors, ${run.timeouts} timeouts`);
	if (run.config === BASELINE && run.setCookieResponses) problems.push(`${what}: ${run.setCookieResponses} responses with Set-Cookie from the baseline`);
	if (run.config !== BASELINE && run.route === 'reads' && run.setCookieResponses) {
		problems.push(`${what}: ${run.setCookieResponses} of ${run.requests} reads sent a Set-Cookie (rolling refresh during the run)`);
	}
	// The cookie strategy keeps the data in the cookie: every write sends it. (A store's cookie
	// holds only the id and expiry, which the library need not send again on every write.)
	if (run.config === 'cookie' && run.route === 'read+write' && run.setCookieResponses < run.requests) {
		problems.push(`${what}: only ${run.setCookieResponses} of ${run.requests} writes sent the cookie`);
	}
}

const summary = [];
for (const route of ROUTES) {
	for (const config of CONFIGS) {
		const mine = runs.filter((r) => r.route === route.id && r.config === config);
		const rps = mine.map((r) => r.rps);
		const cpu = mine.map((r) => r.serverCpuUsPerRequest);
		summary.push({
			route: route.id,
			path: route.path,
			config,
			medianRps: median(rps),
			minRps: Math.min(...rps),
			maxRps: Math.max(...rps),
			medianLatencyMs: median(mine.map((r) => r.latencyMs)),
			medianServerCpuUsPerRequest: cpu.includes(null) ? null : median(cpu),
			requests: mine.reduce((sum, r) => sum + r.requests, 0),
			setCookieResponses: mine.reduce((sum, r) => sum + r.setCookieResponses, 0)
		});
	}
}
const row = (route, config) => summary.find((s) => s.route === route && s.config === config);
const overhead = [];
if (CONFIGS.includes(BASELINE)) {
	for (const config of withSession) {
		for (const route of ROUTES) {
			const [mine, base] = [row(route.id, config), row(route.id, BASELINE)];
			// Paired: each round's run against the baseline's run of the same round, a few seconds
			// apart, so that the machine's slow swings (other tenants of the host) cancel out.
			const paired = [];
			for (let round = 0; round < ROUNDS; round++) {
				const a = runs.find((r) => r.round === round && r.route === route.id && r.config === config);
				const b = runs.find((r) => r.round === round && r.route === route.id && r.config === BASELINE);
				if (a && b) paired.push(1 - a.rps / b.rps);
			}
			overhead.push({
				config,
				route: route.id,
				overhead: median(paired),
				pairedOverheads: paired,
				ofMedians: 1 - mine.medianRps / base.medianRps,
				// The same, for a server that is CPU-bound: 1 - CPU per request(none) / CPU per request(config).
				cpuOverhead: mine.medianServerCpuUsPerRequest === null ? null : 1 - base.medianServerCpuUsPerRequest / mine.medianServerCpuUsPerRequest
			});
		}
	}
}
/**
 * Judged on the 95% confidence interval of the median of the pairs (lib/stats.mjs): met when the
 * whole interval is at most 10%, missed when all of it is above, and inconclusive otherwise: the
 * noise of this machine, not the library, then decides, and more rounds narrow the interval.
 */
const LIMIT = 0.1;
const targets = overhead
	.filter((o) => o.route === 'reads')
	.map((o) => {
		const [low, high] = medianInterval(o.pairedOverheads);
		const met = high <= LIMIT ? true : low > LIMIT ? false : null;
		return { target: `session overhead on reads <= 10% (${o.config})`, value: o.overhead, interval: [low, high], met };
	});

const pct = (v) => (v === null ? '-' : `${(100 * v).toFixed(1)}%`);
const autocannonVersion = JSON.parse(readFileSync(path.join(BENCH_DIR, 'node_modules', 'autocannon', 'package.json'), 'utf8')).version;
const kitVersion = JSON.parse(readFileSync(path.join(REPO_DIR, 'node_modules', '@sveltejs', 'kit', 'package.json'), 'utf8')).version;
const elapsed = (Date.now() - started) / 1000;
const git = (...args) => spawnSync('git', args, { cwd: REPO_DIR, encoding: 'utf8' }).stdout.trim();
const source = `src/ at ${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src') ? ' with uncommitted changes' : ''}`;
const loadAfter = os.loadavg()[0];
const lines = [];
lines.push(`Node ${process.version}, ${CPU}; SvelteKit ${kitVersion} (adapter-node); ${source}${BUILD ? '' : ' (not rebuilt: --no-build)'}; autocannon ${autocannonVersion} in the same process as the load`);
lines.push(`${ROUNDS} rounds x ${SECONDS} s per config and route, ${CONNECTIONS} connections, pipelining 1, ${WARMUP} s warm-up per route and server; timing took ${elapsed.toFixed(0)} s`);
lines.push(`1-minute load average when the timing started: ${loadBefore.toFixed(2)}, when it ended: ${loadAfter.toFixed(2)} (the benchmark alone keeps it near 2: above that, other processes shared the cores)`);
lines.push('req/s: median over the rounds (min-max); latency: median of the runs\' mean; server CPU: the server process\'s user+system');
lines.push('CPU time per request, median over the rounds; Set-Cookie: responses that carried one / requests');
lines.push('');
lines.push(`  ${'route'.padEnd(21)} ${'config'.padEnd(7)} ${'req/s'.padStart(7)} ${'min-max'.padStart(11)} ${'latency'.padStart(8)} ${'server CPU'.padStart(11)}  Set-Cookie`);
for (const s of summary) {
	lines.push(
		`  ${`${s.route} GET ${s.path}`.padEnd(21)} ${s.config.padEnd(7)} ${s.medianRps.toFixed(0).padStart(7)} ${`${s.minRps.toFixed(0)}-${s.maxRps.toFixed(0)}`.padStart(11)} ${`${s.medianLatencyMs.toFixed(2)} ms`.padStart(8)} ${(s.medianServerCpuUsPerRequest === null ? '-' : `${s.medianServerCpuUsPerRequest.toFixed(0)} µs`).padStart(11)}  ${s.setCookieResponses}/${s.requests}`
	);
}
if (overhead.length) {
	lines.push('');
	lines.push(`Session overhead, 1 - req/s(config) / req/s(${BASELINE}): the median over rounds of each round's pair (the target), with`);
	lines.push('the 25th-75th percentiles of those pairs; then the same from the medians of req/s, and from server CPU per request:');
	for (const o of overhead) {
		const spread = `${pct(quantile(o.pairedOverheads, 0.25))} to ${pct(quantile(o.pairedOverheads, 0.75))}`;
		lines.push(`  ${o.route.padEnd(10)} ${o.config.padEnd(7)} ${pct(o.overhead).padStart(6)}  (${spread})   of medians: ${pct(o.ofMedians).padStart(6)}   CPU: ${pct(o.cpuOverhead).padStart(6)}`);
	}
	lines.push('');
	lines.push('Targets:');
	for (const t of targets) {
		const verdict = t.met === null ? 'INCONCLUSIVE: the interval straddles 10%; more rounds narrow it' : t.met ? 'MET' : 'MISSED';
		lines.push(`  ${t.target.padEnd(44)} ${pct(t.value).padStart(6)}  95% interval of the median ${pct(t.interval[0])} to ${pct(t.interval[1])}  ${verdict}`);
	}
}
lines.push('');
lines.push('Checks over HTTP:');
for (const line of checks) lines.push(`  ok  ${line}`);
lines.push(problems.length ? `Problems during the runs:\n${problems.map((p) => `  ${p}`).join('\n')}` : '  ok  every timed response 2xx, no errors or timeouts; no Set-Cookie on reads; cookie: one on every write');
console.log(lines.join('\n'));

writeFileSync(
	OUT,
	JSON.stringify(
		{
			...machine(),
			versions: { kit: kitVersion, autocannon: autocannonVersion, source },
			method: { seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, pipelining: 1, warmupSeconds: WARMUP, configs: CONFIGS, measuredSeconds: elapsed, loadAverage: [loadBefore, loadAfter] },
			summary,
			overhead,
			targets,
			checks,
			problems,
			runs
		},
		null,
		2
	) + '\n'
);
console.error(`[bench:http] wrote ${path.relative(process.cwd(), OUT) || OUT}`);
if (problems.length) process.exitCode = 1;
