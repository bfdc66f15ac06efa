/**
 * A redis-server for S6: started on a free port of 127.0.0.1 without persistence, stopped when the
 * bench ends. Without redis-server on the PATH, S6 is skipped and says what to install.
 */
import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import Redis from 'ioredis';

/** Commands that only read: a read request must send nothing else. */
const READ_COMMANDS = new Set(['get', 'hgetall', 'hget', 'hmget', 'exists', 'ttl', 'pttl', 'mget']);

function freePort() {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address();
			server.close(() => resolve(port));
		});
	});
}

/** Resolves once 127.0.0.1:port accepts a connection (tries for 5 s). */
async function listening(port) {
	for (let attempt = 0; attempt < 50; attempt++) {
		const open = await new Promise((resolve) => {
			const socket = connect(port, '127.0.0.1', () => {
				socket.destroy();
				resolve(true);
			});
			socket.once('error', () => resolve(false));
		});
		if (open) return;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	throw new Error(`redis-server did not listen on 127.0.0.1:${port} within 5 s`);
}

export async function startRedis() {
	const binary = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
	if (!binary) return { skipped: 'redis-server is not installed (apt-get install redis-server)' };
	const port = await freePort();
	const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
	const url = `redis://127.0.0.1:${port}`;
	await listening(port);
	const admin = new Redis(url);
	await admin.ping();
	// MONITOR reports every command with its source: a client's address, or "lua" for commands a
	// script runs. Round trips are the commands that came from a client.
	// MONITOR runs only inside track(): it slows Redis down for every client.
	const seen = [];
	let marks = 0;
	/** Waits until MONITOR has shown everything sent before: an ECHO of a fresh token comes back. */
	async function settle() {
		const token = `bench-mark-${++marks}`;
		await admin.echo(token);
		while (!seen.some((c) => c.name === 'echo' && c.arg === token)) await new Promise((resolve) => setImmediate(resolve));
	}
	return {
		url,
		/**
		 * Runs `fn` and returns what Redis received meanwhile: `roundTrips` (commands sent by a
		 * client, the bench's own ECHO marks left out), `writes` (commands that change data, also
		 * inside scripts) and `commands` (each name, "lua:" before those a script ran).
		 */
		async track(fn) {
			const monitor = await admin.monitor();
			monitor.on('monitor', (time, args, source) => seen.push({ name: String(args[0]).toLowerCase(), arg: args[1], source }));
			await settle();
			seen.length = 0;
			await fn();
			await settle();
			monitor.disconnect();
			const commands = seen.filter((c) => c.name !== 'echo');
			const fromClients = commands.filter((c) => c.source !== 'lua');
			const count = {};
			for (const c of commands) {
				const key = c.source === 'lua' ? `lua:${c.name}` : c.name;
				count[key] = (count[key] ?? 0) + 1;
			}
			return {
				roundTrips: fromClients.length,
				writes: commands.filter((c) => !READ_COMMANDS.has(c.name) && !['eval', 'evalsha'].includes(c.name)).length,
				commands: count
			};
		},
		async stop() {
			admin.disconnect();
			child.kill('SIGTERM');
		}
	};
}
