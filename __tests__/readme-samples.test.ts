/**
 * Every TypeScript, JavaScript and Svelte sample of README.md compiles as written, pasted into a
 * fresh SvelteKit 2 app that installed the package (dist/, built by the jest globalSetup).
 *
 * How a block becomes a file:
 * - Each ```ts / ```js / ```svelte block is one file of a user's app. A first line such as
 *   `// src/hooks.server.ts` or `<!-- src/routes/+page.svelte -->` says which (it must be under
 *   src/, where a SvelteKit app's tsconfig looks). A block that names no file is a standalone
 *   module, `src/lib/readme/sample-<README line>.<ts|js|svelte>`.
 * - Blocks naming the same file (two alternative `src/hooks.server.ts`) do not clash: the k-th
 *   block naming a file goes into the k-th copy of the app. Every copy also holds the files that
 *   only one block names (`src/app.d.ts`, `$lib` modules, routes), so each block is checked as the
 *   file it claims to be, beside the files it uses; standalone modules are checked once, in the
 *   first copy. A route file is at its real place, so SvelteKit's generated `./$types` type its
 *   `load`/`actions` (also when the sample does not annotate them).
 * - The app (`__tests__/fixtures/readme-app`: svelte.config.js, tsconfig.json, src/app.html, as
 *   `npx sv create` makes them) is copied to a temporary folder, with a `.env` holding
 *   SESSION_SECRET (the README's Set-up) and `node_modules/@svelte-dev/session` linking to this
 *   repository, so the package resolves through its package.json `exports` and `types`, as for a
 *   user who installed it. Everything else resolves from the repository's node_modules.
 * - Samples import only what a user's app has: the package, SvelteKit and Svelte, the app's own
 *   modules, Node's built-ins, and what a user installs for a strategy or an id (ioredis, redis,
 *   nanoid). Anything else (tsyringe: the package re-exports `container`) is reported.
 *
 * Each copy gets `svelte-kit sync` and `svelte-check`; every error is listed with the README line
 * it comes from (the block's first line + the line within the block). Set README_SAMPLES_KEEP=1
 * to keep the apps (their folder is printed); README_SAMPLES_FROM=<file> checks another copy of
 * the README (to see the test fail on a broken sample without touching README.md). Apps left by
 * a killed run are removed by a later run once they are an hour old.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const root = join(import.meta.dirname, '..');
const fixture = join(root, '__tests__', 'fixtures', 'readme-app');

interface Block {
  /** README line (1-based) of the block's first line of code (the line after the fence). */
  line: number;
  lang: 'ts' | 'js' | 'svelte';
  code: string;
  /** Where it goes in the app, relative to the app's root. */
  file: string;
  /** The block named its file (otherwise it is a standalone module). */
  named: boolean;
}

const LANGS: Record<string, Block['lang']> = { ts: 'ts', typescript: 'ts', js: 'js', javascript: 'js', svelte: 'svelte' };
// `// src/hooks.server.ts`, `// src/hooks.server.ts, with ioredis`, `<!-- src/routes/+page.svelte -->`
const FILE_COMMENT = /^\s*(?:\/\/|<!--)\s*([\w@$.+\-/[\]()]+?\.(?:ts|js|svelte))(?=$|[\s,:;]|-->)/;

/** The README's code blocks that are files of an app. */
function extractBlocks(readme: string): Block[] {
  const lines = readme.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    // A fence, maybe indented (inside a list item): its code is unindented by as much.
    const open = /^( *)```\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const indent = open[1].length;
    const close = new RegExp(`^ {0,${indent + 3}}\`\`\`\\s*$`);
    let end = i + 1;
    while (end < lines.length && !close.test(lines[end])) end++;
    const lang = LANGS[open[2]];
    if (lang) {
      const code = lines.slice(i + 1, end).map((text) => text.slice(Math.min(indent, text.length - text.trimStart().length))).join('\n') + '\n';
      const named = FILE_COMMENT.exec(lines[i + 1] ?? '');
      const line = i + 2;
      blocks.push({
        line,
        lang,
        code,
        file: named ? named[1] : `src/lib/readme/sample-${line}.${lang}`,
        named: Boolean(named)
      });
    }
    i = end;
  }
  return blocks;
}

/** Where each block goes: app k holds the k-th block of each file named more than once. */
function assignApps(blocks: Block[]): Block[][] {
  const byFile = new Map<string, Block[]>();
  for (const block of blocks) byFile.set(block.file, [...(byFile.get(block.file) ?? []), block]);
  const count = Math.max(1, ...[...byFile.values()].map((claimants) => claimants.length));
  return Array.from({ length: count }, (_, k) =>
    [...byFile.values()].flatMap((claimants) => {
      if (claimants.length > 1) return k < claimants.length ? [claimants[k]] : [];
      return claimants[0].named || k === 0 ? [claimants[0]] : [];
    })
  );
}

/** What a user's app can import: the package, SvelteKit, Svelte, its own modules, and strategy/id packages. */
const ALLOWED_IMPORT = /^(?:\.{1,2}\/|\$lib(?:\/|$)|\$app\/|\$env\/|node:|@svelte-dev\/session(?:\/conformance)?$|@sveltejs\/kit(?:\/|$)|svelte(?:\/|$)|ioredis$|redis$|nanoid$)/;

function importProblems(block: Block): string[] {
  const problems: string[] = [];
  block.code.split('\n').forEach((text, n) => {
    for (const match of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/g)) {
      if (!ALLOWED_IMPORT.test(match[1])) {
        problems.push(`README.md:${block.line + n}: ${block.file}: imports '${match[1]}', which a user's app does not have (allowed: @svelte-dev/session, @sveltejs/kit, svelte, $app/$env/$lib and relative modules, node:*, ioredis, redis, nanoid)`);
      }
    }
  });
  return problems;
}

function run(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, FORCE_COLOR: '0' } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

interface Diagnostic {
  type: string;
  filename: string;
  start: { line: number; character: number };
  message: string;
  code?: number | string;
}

/** Writes app k, runs sync and svelte-check, and returns its errors mapped to README lines. */
async function checkApp(base: string, k: number, blocks: Block[]): Promise<string[]> {
  const app = join(base, `app-${k}`);
  cpSync(fixture, app, { recursive: true });
  // The README's Set-up: a .env at the app's root with SESSION_SECRET (read from $env/static/private).
  writeFileSync(join(app, '.env'), 'SESSION_SECRET=readme-sample-secret-of-at-least-32-characters\n');
  mkdirSync(join(app, 'node_modules', '@svelte-dev'), { recursive: true });
  symlinkSync(root, join(app, 'node_modules', '@svelte-dev', 'session'), 'dir');
  const byFile = new Map<string, Block>();
  for (const block of blocks) {
    mkdirSync(dirname(join(app, block.file)), { recursive: true });
    writeFileSync(join(app, block.file), block.code);
    byFile.set(block.file, block);
  }

  const sync = await run([join(root, 'node_modules', '@sveltejs', 'kit', 'svelte-kit.js'), 'sync'], app);
  if (sync.code !== 0) return [`app-${k}: svelte-kit sync failed (${sync.code}): ${sync.stderr}${sync.stdout}`];
  const check = await run(
    [join(root, 'node_modules', 'svelte-check', 'bin', 'svelte-check'), '--workspace', app, '--tsconfig', './tsconfig.json', '--output', 'machine-verbose'],
    app
  );
  const problems: string[] = [];
  let completed = false;
  for (const text of check.stdout.split('\n')) {
    const json = text.indexOf(' {');
    if (/^\d+ COMPLETED/.test(text)) completed = true;
    if (json < 0) continue;
    const diagnostic = JSON.parse(text.slice(json + 1)) as Diagnostic;
    if (diagnostic.type !== 'ERROR') continue;
    const file = diagnostic.filename.replace(/\\/g, '/');
    const block = byFile.get(file);
    const where = block
      ? `README.md:${block.line + diagnostic.start.line}: ${file}:${diagnostic.start.line + 1}:${diagnostic.start.character + 1}`
      : `(not a README block) ${file}:${diagnostic.start.line + 1}:${diagnostic.start.character + 1}`;
    problems.push(`${where}: ${diagnostic.message.replace(/\s*\n\s*/g, ' ')}${diagnostic.code ? ` (${diagnostic.code})` : ''}`);
  }
  if (!completed) problems.push(`app-${k}: svelte-check did not complete (exit ${check.code}): ${check.stderr}${check.stdout}`);
  return problems;
}

describe('README.md samples', () => {
  const readme = readFileSync(process.env.README_SAMPLES_FROM ?? join(root, 'README.md'), 'utf8');
  const blocks = extractBlocks(readme);

  it('are found: the README has TypeScript samples, each naming a file under src/ or none', () => {
    expect(blocks.length).toBeGreaterThan(5);
    const wrong = blocks.flatMap((b) => [
      ...(b.file.startsWith('src/') ? [] : [`README.md:${b.line}: names ${b.file}, which is not under src/ (no tsconfig of the app would check it)`]),
      ...(b.file.endsWith(`.${b.lang}`) ? [] : [`README.md:${b.line}: a \`\`\`${b.lang} block names ${b.file}`])
    ]);
    expect(wrong).toEqual([]);
  });

  it('import only what a user\'s app has installed', () => {
    expect(blocks.flatMap(importProblems)).toEqual([]);
  });

  it('compile as written in a fresh SvelteKit 2 app (svelte-kit sync + svelte-check: no errors)', async () => {
    const apps = assignApps(blocks);
    // Apps left behind by a run that was killed mid-way (an hour old or more) go first.
    for (const name of readdirSync(tmpdir())) {
      const stale = join(tmpdir(), name);
      if (name.startsWith('readme-samples-') && Date.now() - statSync(stale).mtimeMs > 3_600_000) rmSync(stale, { recursive: true, force: true });
    }
    const base = mkdtempSync(join(tmpdir(), 'readme-samples-'));
    // The apps' packages come from the repository's node_modules (the one under base, linked).
    symlinkSync(join(root, 'node_modules'), join(base, 'node_modules'), 'dir');
    try {
      const results: string[][] = new Array(apps.length);
      // One svelte-check (one TypeScript program) per core at a time.
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(apps.length, Math.max(1, availableParallelism())) }, async () => {
          for (let k = next++; k < apps.length; k = next++) results[k] = await checkApp(base, k, apps[k]);
        })
      );
      // A file present in several copies reports its errors once.
      const problems = [...new Set(results.flat())].sort((a, b) => lineOf(a) - lineOf(b));
      expect(problems).toEqual([]);
    } finally {
      if (process.env.README_SAMPLES_KEEP) console.log(`README sample apps kept in ${base}`);
      else rmSync(base, { recursive: true, force: true });
    }
  }, 240_000);
});

function lineOf(problem: string): number {
  const match = /^README\.md:(\d+)/.exec(problem);
  return match ? Number(match[1]) : Number.MAX_SAFE_INTEGER;
}
