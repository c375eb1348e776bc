// The administrators' console (管理后台): a desktop layout (≥ 1024 px, still
// usable on a phone) of the same web app, online only, loaded on demand when
// the path starts with /console (main.js), so the field app's offline
// bundle stays as it was. The server scopes everything to the
// administrator's subtree.
import { createApp } from 'vue'
import ConsoleApp from './ConsoleApp.vue'
import { router } from './router.js'
import { addMessages, setLocale, locale } from '../i18n.js'
import { messages } from './messages.js'
// The shared base (theme colour, fonts) first, then the console's own.
import '../app.css'
import './console.css'

export function mount() {
  addMessages(messages)
  setLocale(locale.value)
  document.body.classList.add('console')
  document.title = '结对共建管理后台 Pairsync console'
  const app = createApp(ConsoleApp)
  app.use(router)
  app.mount('#app')
}
