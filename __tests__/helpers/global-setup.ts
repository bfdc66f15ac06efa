/**
 * Jest globalSetup: make sure the SvelteKit fixture app is built before any test runs.
 * Cheap when nothing changed (the fixture sources are hashed and compared with a stamp).
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
import { createRequire } from 'node:module';
import path from 'node:path';

type BuildModule = typeof import('./build-kit-app.js');

export default async function globalSetup(_globalConfig: unknown, projectConfig: { rootDir: string }): Promise<void> {
	const rootDir = projectConfig?.rootDir ?? process.cwd();
	const helpersDir = path.join(rootDir, '__tests__', 'helpers');
	const requireHere = createRequire(path.join(helpersDir, 'global-setup.ts'));
	const { buildFixture } = requireHere('./build-kit-app.ts') as BuildModule;
	await buildFixture(path.join(rootDir, '__tests__', 'fixtures', 'kit-app'));
}
