// The app's screens. Their first path segments are listed in server/web.go
// (appPaths and the route table) so a reload opens the app there.
import { createRouter, createWebHistory } from 'vue-router'
import { state } from './engine.js'
import Login from './views/Login.vue'
import Home from './views/Home.vue'
import Pairing from './views/Pairing.vue'
import VisitForm from './views/VisitForm.vue'
import Issue from './views/Issue.vue'
import IssueForm from './views/IssueForm.vue'
import Project from './views/Project.vue'
import ProjectForm from './views/ProjectForm.vue'
import Review from './views/Review.vue'
import Activate from './views/Activate.vue'
import Account from './views/Account.vue'
import Messages from './views/Messages.vue'
import NotifySettings from './views/NotifySettings.vue'

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', component: Home },
    { path: '/login', component: Login, meta: { public: true } },
    { path: '/pairings/:pid', component: Pairing, props: true },
    { path: '/pairings/:pid/visits/new', component: VisitForm, props: true },
    { path: '/pairings/:pid/issues/new', component: IssueForm, props: true },
    { path: '/pairings/:pid/projects/new', component: ProjectForm, props: true },
    { path: '/visits/:id', component: VisitForm, props: true },
    { path: '/issues/:id', component: Issue, props: true },
    { path: '/projects/:id', component: Project, props: true },
    { path: '/review', component: Review },
    { path: '/activate', component: Activate, meta: { public: true } },
    { path: '/account', component: Account },
    { path: '/account/notifications', component: NotifySettings },
    { path: '/messages', component: Messages },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

// A screen opened while signed out (a notification's link: /issues/<id>)
// is where sign-in returns to (?next=, a path of this app only: safeNext).
router.beforeEach((to) => {
  if (!to.meta.public && !state.signedIn) return to.fullPath === '/' ? '/login' : { path: '/login', query: { next: to.fullPath } }
})
