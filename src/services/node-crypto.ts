import type * as NodeCrypto from 'node:crypto';

/**
 * `node:crypto` when the runtime has it, else `undefined` (Workers without nodejs_compat).
 * `process.getBuiltinModule` (Node 20.16+, Deno, Bun) loads it synchronously without a static
 * import, so bundles for Workers never reference `node:crypto`.
 */
export function nodeCrypto(): typeof NodeCrypto | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return proc?.getBuiltinModule?.('node:crypto') as typeof NodeCrypto | undefined;
}
