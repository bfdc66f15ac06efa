/** What every results file records about the run: when, and on which Node and CPU. */
import os from 'node:os';

export const CPU = `${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}`;

/** `{ date, node, cpu }` for a results file. */
export function machine() {
	return { date: new Date().toISOString(), node: process.version, cpu: CPU };
}
