import adapter from '@sveltejs/adapter-node';
import { fileURLToPath } from 'node:url';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  kit: {
    adapter: adapter(),
    alias: {
      // In this repository the demo uses the built package (npm run build), exactly as an app
      // that installed it would. (In your app, `npm install @svelte-dev/session` instead.)
      '@svelte-dev/session': fileURLToPath(new URL('../../dist/index.js', import.meta.url))
    }
  }
};

export default config;
