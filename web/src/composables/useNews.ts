// The news feed: REST history and live articles, all symbols or one.

import { onScopeDispose, ref, shallowRef, watch, type Ref, type ShallowRef } from 'vue'
import { fetchNews } from '@/services/api'
import { Feed } from '@/services/feed'
import { getRTClient } from '@/services/rt'
import type { NewsItem } from '@/services/types'

export const NEWS_LIMIT = 60

export interface NewsModel {
  items: ShallowRef<NewsItem[]>
  error: Ref<string | null>
}

/** Newest first, each article once. */
export function mergeNews(held: readonly NewsItem[], incoming: readonly NewsItem[], limit = NEWS_LIMIT): NewsItem[] {
  const byId = new Map(held.map((n) => [n.id, n]))
  for (const item of incoming) byId.set(item.id, item)
  return [...byId.values()].sort((a, b) => Date.parse(b.published_at) - Date.parse(a.published_at)).slice(0, limit)
}

/** `filter` is a symbol, or null for every article. */
export function useNews(filter: Ref<string | null>): NewsModel {
  const rt = getRTClient()
  const items = shallowRef<NewsItem[]>([])
  const error = ref<string | null>(null)
  let feed: Feed | null = null

  function start(symbol: string | null): void {
    feed?.stop()
    items.value = []
    error.value = null
    feed = new Feed(rt, {
      type: 'news',
      symbol: symbol ?? '*',
      message: 'news',
      accepts: (msg) => symbol === null || (msg.data as NewsItem).symbols.includes(symbol),
      live: (msg) => {
        items.value = mergeNews(items.value, [msg.data as NewsItem])
      },
      load: async (signal) => {
        const loaded = await fetchNews(NEWS_LIMIT, symbol ?? undefined, signal)
        signal.throwIfAborted()
        items.value = mergeNews(items.value, loaded)
      },
      loadState: (err) => {
        error.value = err ? err.message : null
      },
    })
    feed.start()
  }

  watch(filter, start, { immediate: true })
  onScopeDispose(() => feed?.stop())
  return { items, error }
}
