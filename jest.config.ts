import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    // Our sources import siblings as './x.js' (NodeNext style); map them back to the .ts files.
    '^(\\.{1,2}/.*)\\.js$': '$1'
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }]
  },
  setupFiles: ['reflect-metadata'],
  globalSetup: './__tests__/helpers/global-setup.ts',
  testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
  testTimeout: 30_000,
  reporters: ['default', '<rootDir>/__tests__/helpers/summary-reporter.cjs']
};

export default config;
