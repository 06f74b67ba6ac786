import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, URL } from 'node:url'
import { gzipSync } from 'node:zlib'
import { defineConfig, type Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'

// The appliance serves the build from the Python package's static folder.
const outDir = fileURLToPath(new URL('../cryptoviz/static/dashboard', import.meta.url))
// `npm run dev` proxies the appliance's routes, so the page's own origin works as API origin.
const backend = process.env.CRYPTOVIZ_DEV_BACKEND ?? 'http://127.0.0.1:8080'

/** Writes `name.gz` next to each text file, which the appliance serves to gzip clients. */
function precompress(): Plugin {
  return {
    name: 'cryptoviz-precompress',
    apply: 'build',
    closeBundle() {
      const walk = (dir: string): string[] =>
        readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
        )
      for (const file of walk(outDir).filter((f) => /\.(js|css|html|svg|json)$/.test(f))) {
        writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9 }))
      }
    },
  }
}

export default defineConfig({
  plugins: [vue(), precompress()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    reportCompressedSize: true,
  },
  server: {
    proxy: {
      '/api': backend,
      '/health': backend,
      '/ready': backend,
      '/ws': { target: backend, ws: true },
    },
  },
})
