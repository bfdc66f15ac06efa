/**
 * A minimal browser cookie jar for the correctness checks: keeps cookies by name (Path and Domain
 * are ignored: every cookie here is Path=/ on one host), drops those a Set-Cookie expires, and
 * sends back raw values exactly as they were set.
 */
export class Jar {
	#cookies = new Map();

	store(response) {
		const now = Date.now();
		for (const header of response.headers.getSetCookie()) {
			const [pair, ...attributes] = header.split(';');
			const eq = pair.indexOf('=');
			if (eq <= 0) continue;
			const name = pair.slice(0, eq).trim();
			const value = pair.slice(eq + 1).trim();
			let expired = false;
			for (const attribute of attributes) {
				const [key, val = ''] = attribute.trim().split('=');
				const k = key.toLowerCase();
				if (k === 'max-age' && Number(val) <= 0) expired = true;
				if (k === 'expires' && new Date(val).getTime() <= now) expired = true;
			}
			if (expired) this.#cookies.delete(name);
			else this.#cookies.set(name, value);
		}
	}

	get size() {
		return this.#cookies.size;
	}

	header() {
		return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
	}
}
