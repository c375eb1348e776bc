// ECharts, tree-shaken: only the charts and components the console draws
// (bars and lines on a grid, with tooltips and a legend), on canvas.
import { use, init } from 'echarts/core'
import { BarChart, LineChart } from 'echarts/charts'
import { GridComponent, TooltipComponent, LegendComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'

use([BarChart, LineChart, GridComponent, TooltipComponent, LegendComponent, CanvasRenderer])

export { init }
