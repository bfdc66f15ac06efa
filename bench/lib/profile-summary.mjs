/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time,
 * and the share of time under our dist/ and under the bench app's Kit runtime.
 *
 *   node lib/profile-summary.mjs <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';

const [file, topArg = '25'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
	const node = byId.get(profile.samples[i]);
	const d = dt[i] ?? 0;
	total += d;
	const f = node.callFrame;
	const where = f.url ? `${f.url.replace(/^file:\/\//, '')}:${f.lineNumber + 1}` : '(native)';
	const key = `${f.functionName || '(anonymous)'}  ${where}`;
	self.set(key, (self.get(key) ?? 0) + d);
}
const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg));
console.log(`total sampled: ${(total / 1000).toFixed(0)} ms`);
for (const [key, us] of rows) console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`);
const share = (test) => {
	let sum = 0;
	for (const [key, us] of self) if (test(key)) sum += us;
	return ((100 * sum) / total).toFixed(1);
};
console.log(`self time in the repo's dist/ (ours): ${share((k) => /\/main\/dist\//.test(k))}%`);
console.log(`self time in the repo's node_modules (ours' dependencies: cookie, tsyringe, nanoid...): ${share((k) => /\/main\/node_modules\//.test(k))}%`);
console.log(`self time in the bench app's server build (Kit runtime): ${share((k) => /\/bench\/app\/\.svelte-kit\//.test(k))}%`);
console.log(`self time in node:crypto (Hmac, digest, timingSafeEqual...): ${share((k) => /node:internal\/crypto\//.test(k))}%`);
console.log(`self time in undici (Request/Response/Headers): ${share((k) => /undici/.test(k))}%`);
console.log(`self time in GC: ${share((k) => /garbage collector/.test(k))}%`);
