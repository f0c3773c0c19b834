// One chart of the report: the file stem its .svg and .png get, what the page says about it, and the
// vega-lite spec that draws it. Each *-chart.ts builds one from the results, or null without data.
import type { TopLevelSpec } from 'vega-lite';

export interface Chart {
  /** File stem: `step-time` → step-time.svg and step-time.png. */
  readonly stem: string;
  readonly title: string;
  /** One or two sentences under the chart on the page: what it shows and what was left out. */
  readonly caption: string;
  readonly spec: TopLevelSpec;
}
