/**
 * Jest globalSetup: before any test runs, build the package into dist/ (tests of the published
 * package and of the Workers bundle read it; building once here means no test file deletes dist/
 * while another reads it) and make sure the SvelteKit fixture app and the demo app are built. The fixture build is
 * cheap when nothing changed (its sources are hashed and compared with a stamp).
 *
 * Jest runs this file outside its test runtime: it `require`s it through a require hook
 * that applies the ts-jest transform, and `moduleNameMapper` does not apply. Depending on
 * the tsconfig (`isolatedModules`, `module: NodeNext`), ts-jest emits either CommonJS or
 * ESM for it, and Node 20.19+ then loads it as CommonJS or as a native ES module. So this
 * file must not rely on `require`, `__dirname` or `import.meta`, nor statically import a
 * sibling .ts file (Node cannot resolve './build-kit-app.js' to the .ts source). Instead it
 * takes the project root from Jest and loads the build module with a `createRequire`, which
 * goes through Jest's require hook (so it is transpiled) in either case.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

type BuildModule = typeof import('./build-kit-app.js');

export default async function globalSetup(_globalConfig: unknown, projectConfig: { rootDir: string }): Promise<void> {
	const rootDir = projectConfig?.rootDir ?? process.cwd();
	// tsc over the existing dist/ (not `npm run build`, which empties it first): a second test run
	// started meanwhile never sees dist/ missing.
	execFileSync(process.execPath, [path.join(rootDir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: rootDir, stdio: 'pipe' });
	const helpersDir = path.join(rootDir, '__tests__', 'helpers');
	const requireHere = createRequire(path.join(helpersDir, 'global-setup.ts'));
	const { buildFixture } = requireHere('./build-kit-app.ts') as BuildModule;
	await buildFixture(path.join(rootDir, '__tests__', 'fixtures', 'kit-app'));
	// The demo app (adapter-node), which bundles the built package: rebuilt when dist/ changes too.
	await buildFixture(path.join(rootDir, 'examples', 'demo'), [path.join(rootDir, 'dist')]);
}
