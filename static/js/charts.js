// Draws the Data Hub's charts with Plotly (its basic bundle, from the npm package).
// Each chart is a <div data-chart="id"> next to a JSON data island <script id="id">;
// the server sends plain series, this file turns them into Plotly traces. Charts are
// drawn on page load and again whenever HTMX swaps in new ones.
//
// Plotly (1.2 MB) is loaded here, asynchronously, from this script's data-plotly URL:
// a deferred <script> would hold up DOMContentLoaded, and with it HTMX's request for a
// table page's charts, until Plotly had been compiled and run. Loaded async, the two
// happen at once and the charts are drawn when both are there.
(function () {
  "use strict";

  var PLOTLY_URL = document.currentScript && document.currentScript.dataset.plotly;
  var waiting = [];

  function withPlotly(callback) {
    if (window.Plotly) { callback(); return; }
    waiting.push(callback);
  }

  (function loadPlotly() {
    if (window.Plotly || !PLOTLY_URL) { return; }
    var script = document.createElement("script");
    script.src = PLOTLY_URL;
    script.async = true;
    script.onload = function () { waiting.splice(0).forEach(function (f) { f(); }); };
    document.head.appendChild(script);
  })();

  var COLORS = ["#2f5bd3", "#12805c", "#d98324", "#8e44ad", "#c0392b", "#16a2b8",
                "#7f8c2d", "#d6336c", "#5b6478", "#a67c52"];
  var PROVISIONAL_BAND = "rgba(230, 170, 0, 0.13)";
  var FONT = {family: "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif",
              size: 12, color: "#1d2433"};

  function toMs(text) { return Date.parse(text.replace(" ", "T") + "Z"); }
  function fromMs(ms) { return new Date(ms).toISOString().slice(0, 19).replace("T", " "); }
  function valueFormat(spec, axis) {
    var letter = axis || "y";
    return spec.unit === "$" ? "$%{" + letter + ":,.2f}" : "%{" + letter + ":,}";
  }

  function valueAxis(spec) {
    return {tickprefix: spec.unit === "$" ? "$" : "", separatethousands: true, rangemode: "tozero"};
  }

  // One shaded band over each run of provisional slots.
  function provisionalShapes(spec) {
    var shapes = [], half = spec.step * 500, start = null;
    spec.provisional.concat([false]).forEach(function (flag, i) {
      if (flag && start === null) { start = i; }
      if (!flag && start !== null) {
        shapes.push({type: "rect", xref: "x", yref: "paper", y0: 0, y1: 1, layer: "below",
                     x0: fromMs(toMs(spec.x[start]) - half), x1: fromMs(toMs(spec.x[i - 1]) + half),
                     fillcolor: PROVISIONAL_BAND, line: {width: 0}});
        start = null;
      }
    });
    return shapes;
  }

  // With few slots Plotly would tick between them (12:00 on a daily chart): tick per slot.
  function timeAxis(spec) {
    var daily = spec.grain === "day";
    var zone = spec.zone || "UTC";
    var axis = {type: "date",
                hoverformat: daily ? "%Y-%m-%d (UTC day)" : "%Y-%m-%d %H:%M (" + zone + ")"};
    if (spec.x.length <= 12) {
      axis.dtick = spec.step * 1000;
      axis.tickformat = daily ? "%b %-d" : "%b %-d %H:%M";
    }
    return axis;
  }

  function stackFigure(spec) {
    var note = spec.provisional.map(function (p) { return p ? " (provisional)" : ""; });
    var traces = spec.series.map(function (series, i) {
      return {
        // an empty cell is left out, so the hover lists only what the slot holds
        type: "bar", name: series.name, x: spec.x, customdata: note,
        y: series.y.map(function (v) { return Number(v) || null; }),
        marker: {color: COLORS[i % COLORS.length],
                 opacity: spec.provisional.map(function (p) { return p ? 0.5 : 1; })},
        hovertemplate: "%{fullData.name}: " + valueFormat(spec) + "%{customdata}<extra></extra>",
      };
    });
    var layout = {
      barmode: "stack", hovermode: "x unified", showlegend: spec.series.length > 1,
      legend: {orientation: "h", y: -0.18, traceorder: "normal"},
      xaxis: timeAxis(spec),
      yaxis: valueAxis(spec),
      shapes: provisionalShapes(spec),
    };
    return {traces: traces, layout: layout};
  }

  function topFigure(spec) {
    var items = spec.items;
    var trace = {
      type: "bar", orientation: "h", x: items.map(function (it) { return Number(it.value); }),
      y: items.map(function (it) { return it.name; }), marker: {color: COLORS[0]},
      customdata: items.map(function (it) { return it.key; }),
      hovertemplate: "%{y}<br>" + valueFormat(spec, "x") + "<br><span style='color:#5b6478'>%{customdata}</span><extra></extra>",
    };
    var layout = {
      showlegend: false, hovermode: "closest",
      yaxis: {autorange: "reversed", automargin: true, ticklabeloverflow: "hide past domain"},
      xaxis: valueAxis(spec),
      height: Math.max(180, 34 * items.length + 70),
    };
    return {traces: [trace], layout: layout};
  }

  function draw(element) {
    var island = document.getElementById(element.dataset.chart);
    if (!island) { return; }
    var spec = JSON.parse(island.textContent);
    var figure = spec.kind === "top" ? topFigure(spec) : stackFigure(spec);
    var layout = Object.assign({
      font: FONT, height: 300, margin: {l: 10, r: 10, t: 10, b: 10},
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    }, figure.layout);
    layout.yaxis = Object.assign({automargin: true, gridcolor: "#e6eaf2"}, layout.yaxis);
    layout.xaxis = Object.assign({automargin: true, gridcolor: "#e6eaf2"}, layout.xaxis);
    window.Plotly.react(element, figure.traces, layout,
                        {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"]});
  }

  function drawAll(root) {
    if (!root) { return; }
    withPlotly(function () { root.querySelectorAll("[data-chart]").forEach(draw); });
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!window.Plotly || !event.detail.target) { return; }
    event.detail.target.querySelectorAll(".js-plotly-plot").forEach(window.Plotly.purge);
  });
  document.addEventListener("htmx:afterSwap", function (event) { drawAll(event.detail.target); });
})();
