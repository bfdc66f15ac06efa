import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { publint } from 'publint';

const root = join(import.meta.dirname, '..');

/**
 * The package as it is published: `tsc` output in dist/ with declarations and decorator metadata,
 * the exports SPEC §9 names, and nothing publint objects to.
 */
describe('the published package (dist/, built by the jest globalSetup)', () => {
  it('has no publint messages', async () => {
    const { messages } = await publint({ pkgDir: root, strict: true });
    expect(messages).toEqual([]);
  });

  it('exports every name of SPEC §9 from dist/index.js, with declarations', async () => {
    const entry = await import(join(root, 'dist/index.js'));
    for (const name of [
      'handleSession',
      'SessionStorage',
      'BaseStrategy',
      'CookieSessionStrategy',
      'MemoryStrategy',
      'CloudflareKVStrategy',
      'RedisStrategy',
      'SessionError',
      'SessionConfigError',
      'SessionStoreError',
      'Tokens',
      'HmacSigner',
      'WebCryptoHmacSigner',
      'ChunkedCookieCodec',
      'createCustomStrategy'
    ]) {
      expect(entry[name]).toBeDefined();
    }
    const types = readFileSync(join(root, 'dist/index.d.ts'), 'utf8');
    for (const name of ['SessionData', 'FlashSessionData', 'SessionStorageStrategy', 'SessionOptions', 'HandleSessionOptions', 'CookieOptions', 'SessionStorageOptions']) {
      expect(types).toContain(name);
    }
  });

  it('offers the conformance helper at @svelte-dev/session/conformance, outside the main entry', async () => {
    const conformance = await import(join(root, 'dist/conformance.js'));
    expect(typeof conformance.strategyConformance).toBe('function');
    expect(readFileSync(join(root, 'dist/index.js'), 'utf8')).not.toMatch(/conformance|node:assert/);
  });

  it('ships decorator metadata, so injection works without the user compiling decorators', () => {
    const signer = readFileSync(join(root, 'dist/services/hmac-signer.js'), 'utf8');
    expect(signer).toMatch(/__metadata\("design:paramtypes"/);
    expect(existsSync(join(root, 'dist/services/hmac-signer.d.ts'))).toBe(true);
  });

  it('type-checks, sources and tests together (ts-jest only transpiles, so this is where type errors show)', async () => {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const output = await new Promise<string>((resolve) => {
      execFile(process.execPath, [tsc, '--noEmit', '-p', 'tsconfig.json'], { cwd: root }, (_error, stdout, stderr) => resolve(stdout + stderr));
    });
    expect(output.split('\n').filter((line) => /error TS\d+/.test(line))).toEqual([]);
  }, 120_000);
});
