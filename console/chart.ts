/**
 * A time-series line chart on uPlot (loaded by index.html as the classic script uPlot.iife.min.js, so it is the
 * global `uPlot`; only its types are imported here). The chart follows its container's width.
 */
import type UPlot from 'uplot';

declare const uPlot: typeof UPlot;

export interface SeriesSpec {
  label: string;
  color: string;
  /** Formats a value for the legend. */
  format?: (v: number) => string;
}

const SANS = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

export class TimeChart {
  private readonly plot: UPlot;
  private readonly resize: ResizeObserver;
  /** Our own legend (colour, label, latest value): uPlot's shows values only under the cursor. */
  private readonly legendValues: HTMLElement[];
  private readonly specs: SeriesSpec[];
  private readonly yFormat: (v: number) => string;

  constructor(
    readonly container: HTMLElement,
    series: SeriesSpec[],
    options: { height?: number; yFormat?: (v: number) => string } = {},
  ) {
    const yFormat = options.yFormat ?? ((v: number) => String(v));
    this.specs = series;
    const opts: UPlot.Options = {
      width: Math.max(200, container.clientWidth),
      height: options.height ?? 220,
      cursor: { drag: { x: false, y: false } },
      legend: { show: false },
      scales: {
        // At least a minute on the x axis, so the first seconds are not stretched over the whole width.
        x: { time: true, range: (_u, min, max) => (max === null ? [Date.now() / 1000 - 60, Date.now() / 1000] : [Math.min(min ?? max, max - 60), max]) },
        y: { range: (_u, min, max) => [0, Math.max(1, max ?? 0, min ?? 0) * 1.1] },
      },
      axes: [
        { stroke: '#64748b', font: SANS, grid: { stroke: '#eef1f5', width: 1 }, ticks: { stroke: '#e2e8f0', width: 1 }, values: '{HH}:{mm}:{ss}', space: 70 },
        { stroke: '#64748b', font: SANS, size: 60, grid: { stroke: '#eef1f5', width: 1 }, ticks: { show: false }, values: (_u, ticks) => ticks.map(yFormat) },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          fill: s.color + '1f',
          points: { show: false },
        })),
      ],
    };
    const empty: UPlot.AlignedData = [[], ...series.map(() => [])];
    this.plot = new uPlot(opts, empty, container);
    const legend = document.createElement('div');
    legend.className = 'chart-legend';
    this.legendValues = series.map((s) => {
      const item = document.createElement('span');
      item.className = 'legend-item';
      const swatch = document.createElement('i');
      swatch.style.background = s.color;
      const value = document.createElement('b');
      value.textContent = '—';
      item.append(swatch, `${s.label} `, value);
      legend.appendChild(item);
      return value;
    });
    container.appendChild(legend);
    this.yFormat = yFormat;
    this.resize = new ResizeObserver(() => {
      const width = Math.max(200, container.clientWidth);
      if (width !== this.plot.width) this.plot.setSize({ width, height: this.plot.height });
    });
    this.resize.observe(container);
  }

  setData(times: number[], ...columns: number[][]): void {
    this.plot.setData([times, ...columns]);
    columns.forEach((c, i) => {
      const last = c[c.length - 1];
      this.legendValues[i]!.textContent = last === undefined ? '—' : (this.specs[i]!.format ?? this.yFormat)(last);
    });
    // For tests and curious users: how many points are drawn and the largest value.
    this.container.dataset['points'] = String(times.length);
    this.container.dataset['max'] = String(Math.max(0, ...columns.flat()));
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot.destroy();
  }
}

/** A tiny inline SVG trend line for table cells (queue depth). */
export function sparkline(values: number[], width = 96, height = 24): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('class', 'sparkline');
  if (values.length < 2) return svg;
  const max = Math.max(1, ...values);
  const step = width / (values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join(' ');
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', points);
  svg.appendChild(line);
  return svg;
}
