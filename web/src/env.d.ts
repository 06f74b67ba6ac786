/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** REST origin, e.g. http://localhost:8080; default: the page's origin. */
  readonly VITE_API_URL?: string
  /** WebSocket URL, e.g. ws://localhost:8080/ws/crypto; default: from VITE_API_URL. */
  readonly VITE_WS_URL?: string
  /** "true": a local mock stream instead of the server, for UI work without a backend. */
  readonly VITE_USE_MOCK?: string
}

interface ImportMeta {
  readonly env: ImportMetaEnv
}

declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}
