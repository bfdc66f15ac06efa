// The bench app is only ever driven in-process through Kit's `Server#respond` (see ../run.mjs),
// so no adapter output is needed: this inline adapter only keeps Kit from warning.

/** @type {import('@sveltejs/kit').Config} */
export default {
	kit: {
		adapter: { name: 'bench-noop', adapt() {} }
	}
};
