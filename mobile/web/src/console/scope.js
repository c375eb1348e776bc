// The scope of a screen lives in its URL (?org_unit=&from=&to=), so a link
// or a reload shows the same records; the period defaults to the server's
// (January of this year up to this month, China time).
import { computed } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { thisMonth, yearStart } from './store.js'

export function useScope() {
  const route = useRoute()
  const router = useRouter()
  return computed({
    get: () => ({ org_unit: route.query.org_unit || '', from: route.query.from || yearStart(), to: route.query.to || thisMonth() }),
    set: (v) => {
      const q = { ...route.query, ...v }
      for (const k of Object.keys(q)) if (q[k] === '' || q[k] == null) delete q[k]
      router.replace({ query: q })
    },
  })
}

// keep picks the scope's keys of a query, for links between screens.
export function keep(query, keys = ['org_unit', 'from', 'to']) {
  const out = {}
  for (const k of keys) if (query[k]) out[k] = query[k]
  return out
}
