import { defineConfig } from 'vitest/config';
import preact from '@preact/preset-vite';

// The app is served on the same origin as the API (`/v1`), locally by `make dev` and in AWS by
// CloudFront; `npm run dev` proxies the API and the Cognito stand-in to a running `make dev`.
export default defineConfig({
  plugins: [preact()],
  // Two pages: the customer portal (index.html) and the staff back office (staff.html, at /staff).
  build: {
    target: 'es2022',
    sourcemap: false,
    assetsInlineLimit: 0,
    rollupOptions: { input: { portal: 'index.html', staff: 'staff.html' } },
  },
  server: {
    proxy: {
      '/v1': 'http://127.0.0.1:3000',
      '/cognito': 'http://127.0.0.1:3000',
      '/config.json': 'http://127.0.0.1:3000',
    },
  },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
});
