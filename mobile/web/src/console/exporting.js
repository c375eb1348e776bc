// Exports (.xlsx) through the API with the token, saved under the server's
// file name.
import { ref } from 'vue'
import { download } from './session.js'
import { notify } from './store.js'
import { t } from '../i18n.js'

export function useExport() {
  const busy = ref(false)
  async function run(path, fallback) {
    busy.value = true
    try {
      const f = await download(path, fallback)
      notify(t('c_exported', { n: f.name || fallback }))
    } catch (e) {
      notify(t('c_error', { m: e.message }), 'error')
    } finally {
      busy.value = false
    }
  }
  return { busy, run }
}
