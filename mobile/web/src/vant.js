// The Vant components the app uses, each with its own styles (no full CSS
// bundle): registered once, globally.
import { Button, Cell, CellGroup, Field, Form, NavBar, Tab, Tabs, Tag, Radio, RadioGroup, Empty, Rate, Icon, Loading, Divider, Badge, Stepper } from 'vant'
import 'vant/es/button/style/index.mjs'
import 'vant/es/cell/style/index.mjs'
import 'vant/es/cell-group/style/index.mjs'
import 'vant/es/field/style/index.mjs'
import 'vant/es/form/style/index.mjs'
import 'vant/es/nav-bar/style/index.mjs'
import 'vant/es/tab/style/index.mjs'
import 'vant/es/tabs/style/index.mjs'
import 'vant/es/tag/style/index.mjs'
import 'vant/es/radio/style/index.mjs'
import 'vant/es/radio-group/style/index.mjs'
import 'vant/es/empty/style/index.mjs'
import 'vant/es/rate/style/index.mjs'
import 'vant/es/icon/style/index.mjs'
import 'vant/es/loading/style/index.mjs'
import 'vant/es/divider/style/index.mjs'
import 'vant/es/badge/style/index.mjs'
import 'vant/es/stepper/style/index.mjs'
import 'vant/es/toast/style/index.mjs'
import 'vant/es/dialog/style/index.mjs'
// 待办's tab bar (web-todo)
import { Tabbar, TabbarItem } from 'vant'
import 'vant/es/tabbar/style/index.mjs'
import 'vant/es/tabbar-item/style/index.mjs'
// 通知设置's switches (issue 17)
import { Switch } from 'vant'
import 'vant/es/switch/style/index.mjs'

export function install(app) {
  for (const c of [Button, Cell, CellGroup, Field, Form, NavBar, Tab, Tabs, Tag, Radio, RadioGroup, Empty, Rate, Icon, Loading, Divider, Badge, Stepper]) app.use(c)
  app.use(Tabbar)
  app.use(TabbarItem)
  app.use(Switch)
}
export { showToast, showConfirmDialog, showFailToast, showSuccessToast } from 'vant'
