// The console's screens, under /console/ (server/web.go opens index.html
// for them). Every screen but the sign-in needs an administrator's or a
// viewer's session.
import { createRouter, createWebHistory } from 'vue-router'
import { signedIn } from './session.js'
import Login from './views/Login.vue'
import Overview from './views/Overview.vue'
import Pairings from './views/Pairings.vue'
import PairingPage from './views/PairingPage.vue'
import Issues from './views/Issues.vue'
import Projects from './views/Projects.vue'
import Visits from './views/Visits.vue'
import Ratings from './views/Ratings.vue'
import Attention from './views/Attention.vue'
import OrgUnits from './views/OrgUnits.vue'
import Counterparties from './views/Counterparties.vue'
import PairingAdmin from './views/PairingAdmin.vue'
import Users from './views/Users.vue'
import Devices from './views/Devices.vue'
import Audit from './views/Audit.vue'
import Todo from './views/Todo.vue'
import Account from './views/Account.vue'
import Notifications from './views/Notifications.vue'
import Inbox from './views/Inbox.vue'

export const router = createRouter({
  history: createWebHistory(),
  // A link to a record on its page (#issue-…, #project-…, from 待办): the page
  // loads its records first, so wait for the element (at most 5 s).
  scrollBehavior(to, from, saved) {
    if (saved) return saved
    if (!to.hash) return false
    const t0 = Date.now()
    return new Promise((resolve) => {
      const look = () => {
        let el = null
        try { el = document.querySelector(to.hash) } catch { /* not a selector */ }
        if (el || Date.now() - t0 > 5000) resolve(el ? { el, top: 16 } : false)
        else setTimeout(look, 100)
      }
      look()
    })
  },
  routes: [
    { path: '/console', redirect: '/console/overview' },
    { path: '/console/login', component: Login, meta: { public: true } },
    { path: '/console/overview', component: Overview },
    { path: '/console/todo', component: Todo },
    { path: '/console/pairings', component: Pairings },
    { path: '/console/pairings/:id', component: PairingPage, props: true },
    { path: '/console/issues', component: Issues },
    { path: '/console/projects', component: Projects },
    { path: '/console/visits', component: Visits },
    { path: '/console/ratings', component: Ratings },
    { path: '/console/attention', component: Attention },
    { path: '/console/manage/org-units', component: OrgUnits },
    { path: '/console/manage/counterparties', component: Counterparties },
    { path: '/console/manage/pairings', component: PairingAdmin },
    { path: '/console/manage/users', component: Users },
    { path: '/console/manage/devices', component: Devices },
    { path: '/console/manage/audit', component: Audit },
    { path: '/console/account', component: Account },
    { path: '/console/notifications', component: Notifications },
    { path: '/console/messages', component: Inbox },
    { path: '/console/:rest(.*)*', redirect: '/console/overview' },
    // Outside /console the field app answers (a full load).
    { path: '/:rest(.*)*', component: { render: () => null }, beforeEnter: (to) => { location.assign(to.fullPath); return false } },
  ],
})

router.beforeEach((to) => {
  if (!to.meta.public && !signedIn() && to.path.startsWith('/console')) return { path: '/console/login', query: { next: to.fullPath } }
})
