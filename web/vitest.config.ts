import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vitest/config'

// Unit tests, the mock stream, and rt.ts against a real `cryptoviz serve` each test starts.
export default defineConfig({
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Backend tests start servers: one file at a time keeps a 2-core machine responsive.
    fileParallelism: false,
    reporters: ['default'],
  },
})
