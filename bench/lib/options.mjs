/** Command-line options of the bench scripts: `--name value`. */

/** The value after `--name`, or `fallback`. */
export function option(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

/** A comma-separated option as a list, blanks dropped. */
export function listOption(name, fallback) {
	return option(name, fallback)
		.split(',')
		.map((s) => s.trim())
		.filter(Boolean);
}
