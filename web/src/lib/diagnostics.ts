// `window.cryptoviz`: what the page is showing, read-only, for support and for the
// end-to-end tests (the chart draws on canvas, which a test cannot read back as data).

type Probe = () => unknown

const probes = new Map<string, Probe>()

interface Diagnostics {
  chart(): unknown
  connection(): unknown
}

function install(): void {
  const w = window as unknown as { cryptoviz?: Diagnostics }
  w.cryptoviz ??= {
    chart: () => probes.get('chart')?.() ?? null,
    connection: () => probes.get('connection')?.() ?? null,
  }
}

function register(name: string, probe: Probe): () => void {
  if (typeof window !== 'undefined') install()
  probes.set(name, probe)
  return () => {
    if (probes.get(name) === probe) probes.delete(name)
  }
}

export const registerChart = (probe: Probe): (() => void) => register('chart', probe)
export const registerConnection = (probe: Probe): (() => void) => register('connection', probe)
