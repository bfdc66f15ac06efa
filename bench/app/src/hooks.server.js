// The bench app never imports a session library. ../run.mjs installs the handle under test on
// `globalThis.__BENCH_HANDLE__` (one library at a time) and this hook delegates to it.

/** @type {import('@sveltejs/kit').Handle} */
export const handle = (input) => {
	const delegate = globalThis.__BENCH_HANDLE__;
	return delegate ? delegate(input) : input.resolve(input.event);
};

/** Keeps the last unexpected error, so the runner can say why a correctness check failed. */
/** @type {import('@sveltejs/kit').HandleServerError} */
export const handleError = ({ error, message }) => {
	globalThis.__BENCH_LAST_ERROR__ = error;
	return { message };
};
