import { json } from '@sveltejs/kit';

// GET /<op>: the operation (`none`, `read`, `incr`, `seed`) is carried out on the session by
// the functions the runner installed for the library under test (`globalThis.__BENCH_OPS__`),
// since each library has its own session API. `none` never touches the session.

/** @type {import('./$types').RequestHandler} */
export const GET = async (event) => {
	const op = event.params.op;
	if (op === 'none') return json({ ok: true });
	const fn = globalThis.__BENCH_OPS__?.[op];
	if (!fn) return json({ error: `no op ${op}` }, { status: 404 });
	return json(await fn(event));
};
