// Time-series charts (uPlot): lines over span time, with an optional baseline band.
import uPlot from "uplot";
import { cssVar, h } from "./util.js";

/**
 * A chart in `container`.
 * t: unix ns per point; series: [{label, values, color, width, dash, fill, spanGaps, points}];
 * band: {low, high, label} drawn as a shaded range; yFormat: value -> text.
 */
export function timeChart(container, { t, series, band, height = 160, yFormat = (v) => String(v), yMin, legend = true, highlight }) {
  const x = t.map((ns) => Number(ns) / 1e9);
  const data = [x];
  const opts = {
    width: Math.max(240, container.clientWidth || 600),
    height,
    legend: { show: legend, live: true },
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true }, y: { range: (u, min, max) => [yMin ?? Math.min(0, min ?? 0), (max ?? 1) * 1.1 || 1] } },
    axes: [
      { stroke: cssVar("--muted"), grid: { stroke: cssVar("--border"), width: 1 }, ticks: { stroke: cssVar("--border") },
        values: (u, ticks) => ticks.map((sec, i) => clock(sec, i > 0 ? sec - ticks[i - 1] : ticks[1] - sec)) },
      { stroke: cssVar("--muted"), grid: { stroke: cssVar("--border"), width: 1 }, ticks: { stroke: cssVar("--border") },
        values: (u, ticks) => ticks.map(yFormat), size: 64 },
    ],
    series: [{ label: "time" }],
    bands: [],
    hooks: { drawClear: highlight ? [(u) => shade(u, highlight)] : [] },
  };
  if (band) {
    const color = band.color || "#4f7cff";
    data.push(band.high, band.low);
    opts.series.push(
      { label: band.label ? `${band.label} high` : "baseline high", stroke: color + "99", width: 1, value: (u, v) => fmtOr(v, yFormat) },
      { label: band.label ? `${band.label} low` : "baseline low", stroke: color + "99", width: 1, value: (u, v) => fmtOr(v, yFormat) },
    );
    opts.bands.push({ series: [1, 2], fill: color + "30" });
  }
  for (const item of series) {
    data.push(item.values);
    opts.series.push({
      label: item.label, stroke: item.color, width: item.width || 1.5, dash: item.dash, fill: item.fill,
      spanGaps: !!item.spanGaps, points: { show: item.points || item.values.length < 40, size: 4 }, value: (u, v) => fmtOr(v, yFormat),
    });
  }
  const plot = new uPlot(opts, data, container);
  const resize = new ResizeObserver(() => {
    const width = container.clientWidth;
    if (width && Math.abs(width - plot.width) > 4) plot.setSize({ width, height });
  });
  resize.observe(container);
  return plot;
}

/** A red wash over [start, end] (unix ns): where the signal was anomalous. */
function shade(u, [startNs, endNs]) {
  const x0 = u.valToPos(Number(startNs) / 1e9, "x", true), x1 = u.valToPos(Number(endNs) / 1e9, "x", true);
  const left = Math.max(u.bbox.left, x0), right = Math.min(u.bbox.left + u.bbox.width, x1);
  if (right <= left) return;
  u.ctx.save();
  u.ctx.fillStyle = "rgba(229, 72, 77, 0.10)";
  u.ctx.fillRect(left, u.bbox.top, right - left, u.bbox.height);
  u.ctx.restore();
}

const pad = (n) => String(n).padStart(2, "0");

/** Axis time in the browser's zone: 14:05, or 14:05:30 when ticks are under a minute apart. */
function clock(seconds, step) {
  const d = new Date(seconds * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}${step < 60 ? ":" + pad(d.getSeconds()) : ""}`;
}

function fmtOr(value, format) {
  return value === null || value === undefined ? "–" : format(value);
}

/** A titled chart card body. */
export function chartBox(title) {
  const holder = h("div", { class: "chart" });
  return { box: h("div", {}, h("div", { class: "chart-title" }, title), holder), holder };
}
