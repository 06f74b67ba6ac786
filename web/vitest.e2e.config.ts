import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vitest/config'

// End-to-end: the built dashboard served by a real `cryptoviz serve`, driven in Chromium.
export default defineConfig({
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  test: {
    include: ['e2e/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['e2e/support/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    sequence: { concurrent: false },
    reporters: ['default'],
  },
})
