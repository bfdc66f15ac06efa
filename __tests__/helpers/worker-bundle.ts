/**
 * Bundles __tests__/fixtures/worker/entry.js into one ES module Worker script, the way a Workers
 * build would: the fixture SvelteKit app's built server output (`Server`, `manifest`) plus the
 * BUILT package (dist/index.js, never src/) and their dependencies.
 *
 * Both inputs are produced by the jest globalSetup (tsc into dist/, `vite build` of the fixture);
 * this helper only reads them.
 *
 * esbuild options, and why:
 *  - `format: 'esm'`: a modules-syntax Worker (`export default { fetch }`).
 *  - `platform: 'neutral'` with `conditions: ['workerd', 'worker', 'browser']` and
 *    `mainFields: ['browser', 'module', 'main']`: what Wrangler uses for Workers. Nothing
 *    Node-specific is assumed, and packages pick their Worker/browser builds:
 *      - `svelte` lists `worker` before `browser` in its exports, so `worker` is what gives its
 *        server runtime (with `browser` alone the client runtime would be bundled);
 *      - `nanoid` (a dependency of ours) needs `browser`: its default export
 *        (`nanoid/index.js`) imports `node:crypto` statically, `index.browser.js` uses
 *        `crypto.getRandomValues`. Without `browser` the bundle does not build at all.
 *  - No `external`, no `alias`: every import is bundled. The only `node:` specifiers left in
 *    the output are dynamic imports that Svelte and Kit guard themselves (inside try/catch or
 *    with a `.catch`); esbuild leaves such failed-to-resolve dynamic imports in place on its
 *    own, and they are listed in `nodeImports` so the test can check where they come from.
 *  - `target: 'es2022'`: the fixture's server output uses top-level await (Kit's
 *    runtime/server/utils.js), which workerd supports.
 *  - `metafile: true`: the test reads the import graph from it.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions, type Metafile } from 'esbuild';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WORKER_ENTRY = path.join(ROOT, '__tests__', 'fixtures', 'worker', 'entry.js');
export const PACKAGE_ENTRY = path.join(ROOT, 'dist', 'index.js');
export const KIT_SERVER_DIR = path.join(ROOT, '__tests__', 'fixtures', 'kit-app', '.svelte-kit', 'output', 'server');

/** The esbuild options used for the Worker (without entry and output paths). */
export const WORKER_BUILD_OPTIONS = {
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  conditions: ['workerd', 'worker', 'browser'],
  mainFields: ['browser', 'module', 'main'],
  target: 'es2022',
  metafile: true,
  logLevel: 'silent'
} as const satisfies BuildOptions;

export interface ModuleImport {
  /** The importing file, relative to the repository root (as esbuild's metafile names it). */
  importer: string;
  /** The specifier as written. */
  path: string;
  /** 'import-statement', 'dynamic-import', 'require-call', ... */
  kind: string;
}

export interface WorkerBundle {
  /** The temporary folder holding the bundle. */
  dir: string;
  /** The bundled Worker script (`<dir>/worker.js`). */
  file: string;
  code: string;
  metafile: Metafile;
  /** esbuild's warnings, as text. */
  warnings: string[];
  /** Every `node:` import of every bundled file. */
  nodeImports: ModuleImport[];
  /** Every import left in the output (not bundled), `node:` or not. */
  externalImports: ModuleImport[];
  /** Removes the temporary folder. */
  dispose(): Promise<void>;
}

/** Builds the Worker script into a fresh temporary folder. */
export async function bundleWorker(): Promise<WorkerBundle> {
  for (const [file, what] of [
    [PACKAGE_ENTRY, 'the built package (tsc -p tsconfig.build.json)'],
    [path.join(KIT_SERVER_DIR, 'index.js'), "the fixture app's server output (vite build)"],
    [path.join(KIT_SERVER_DIR, 'manifest.js'), "the fixture app's manifest (vite build)"]
  ] as const) {
    if (!existsSync(file)) {
      throw new Error(`${file} is missing: ${what}. Run the test through jest, whose globalSetup builds it.`);
    }
  }

  const dir = await mkdtemp(path.join(tmpdir(), 'session-worker-'));
  const file = path.join(dir, 'worker.js');
  try {
    const result = await build({
      ...WORKER_BUILD_OPTIONS,
      conditions: [...WORKER_BUILD_OPTIONS.conditions],
      mainFields: [...WORKER_BUILD_OPTIONS.mainFields],
      absWorkingDir: ROOT,
      entryPoints: [WORKER_ENTRY],
      outfile: file
    });
    const imports = Object.entries(result.metafile.inputs).flatMap(([importer, input]) =>
      input.imports.map((i) => ({ importer, path: i.path, kind: i.kind, external: i.external === true }))
    );
    const strip = ({ importer, path: spec, kind }: ModuleImport & { external: boolean }): ModuleImport => ({ importer, path: spec, kind });
    return {
      dir,
      file,
      code: await readFile(file, 'utf8'),
      metafile: result.metafile,
      warnings: result.warnings.map((w) => `${w.location?.file ?? ''}:${w.location?.line ?? ''} ${w.text}`),
      nodeImports: imports.filter((i) => i.path.startsWith('node:')).map(strip),
      externalImports: imports.filter((i) => i.external).map(strip),
      dispose: () => rm(dir, { recursive: true, force: true })
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The bundled files that belong to the package: everything reachable from dist/ through
 * bundled imports, including our own dependencies (tsyringe, nanoid, cookie, reflect-metadata),
 * but not `@sveltejs/kit`, a peer dependency whose copy is the app's.
 */
export function packageInputs(metafile: Metafile): string[] {
  const isKit = (file: string) => /(^|\/)node_modules\/@sveltejs\/kit\//.test(file);
  const seen = new Set<string>();
  const queue = Object.keys(metafile.inputs).filter((file) => file.startsWith('dist/'));
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.has(file) || isKit(file)) continue;
    seen.add(file);
    for (const i of metafile.inputs[file]?.imports ?? []) {
      if (!i.external && i.path in metafile.inputs) queue.push(i.path);
    }
  }
  return [...seen].sort();
}
