// Draws the Data Hub's charts with Chart.js (the npm package chart.js, its UMD build).
// Each chart is a <div data-chart="id"> next to a JSON data island <script id="id">;
// the server sends plain series, this file turns them into Chart.js bar charts: a
// stacked bar per time slot ("stack") or one horizontal bar per name ("top"). Charts are
// drawn on page load and again whenever HTMX swaps in new ones.
//
// Chart.js is loaded here, asynchronously, from this script's data-chartjs URL: a
// deferred <script> would hold up DOMContentLoaded, and with it HTMX's request for a
// table page's charts, until the library had been compiled and run. Loaded async, the
// two happen at once and the charts are drawn when both are there.
(function () {
  "use strict";

  var LIBRARY_URL = document.currentScript && document.currentScript.dataset.chartjs;
  var MISSING = "The charts could not be drawn: their library (the npm package chart.js) " +
                "did not load. `make` installs it; the table lists the same rows.";
  var waiting = [], missing = false;

  function withLibrary(callback) {
    if (window.Chart) { callback(); return; }
    if (missing) { say(MISSING); return; }
    waiting.push(callback);
  }

  function say(text) {
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      element.textContent = text;
      element.className = "muted chart-missing";
    });
  }

  (function loadLibrary() {
    if (window.Chart || !LIBRARY_URL) { return; }
    var script = document.createElement("script");
    script.src = LIBRARY_URL;
    script.async = true;
    script.onload = function () { waiting.splice(0).forEach(function (f) { f(); }); };
    script.onerror = function () { missing = true; waiting = []; say(MISSING); };
    document.head.appendChild(script);
  })();

  var COLORS = ["#2f5bd3", "#12805c", "#d98324", "#8e44ad", "#c0392b", "#16a2b8",
                "#7f8c2d", "#d6336c", "#5b6478", "#a67c52"];
  var PROVISIONAL_BAND = "rgba(230, 170, 0, 0.13)";
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var NAME_CHARS = 28;  // a longer name is cut on the axis, whole on hover
  var INTEGER = new Intl.NumberFormat("en-US", {maximumFractionDigits: 0});
  var CENTS = new Intl.NumberFormat("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
  var TICK = new Intl.NumberFormat("en-US", {maximumFractionDigits: 2});

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function color(i, opacity) {
    var hex = COLORS[i % COLORS.length];
    var rgb = [1, 3, 5].map(function (at) { return parseInt(hex.slice(at, at + 2), 16); });
    return "rgba(" + rgb.join(", ") + ", " + opacity + ")";
  }

  function value(spec, number) {
    return spec.unit === "$" ? "$" + CENTS.format(number) : INTEGER.format(number);
  }

  function tickValue(spec, number) {
    return (spec.unit === "$" ? "$" : "") + TICK.format(number);
  }

  // A slot is "YYYY-MM-DD HH:MM:SS", already in the zone the chart is drawn in.
  function slotTick(spec, text) {
    var day = MONTHS[Number(text.slice(5, 7)) - 1] + " " + Number(text.slice(8, 10));
    return spec.grain === "day" ? day : day + " " + text.slice(11, 16);
  }

  function slotTitle(spec, text) {
    return spec.grain === "day" ? text.slice(0, 10) + " (UTC day)"
      : text.slice(0, 16) + " (" + (spec.zone || "UTC") + ")";
  }

  // Shades the provisional slots of a stacked chart, behind its bars.
  var provisionalBand = {
    id: "provisionalBand",
    beforeDatasetsDraw: function (chart, args, options) {
      var flags = options.flags || [], x = chart.scales.x, area = chart.chartArea;
      if (!flags.length) { return; }
      var width = x.width / flags.length, context = chart.ctx;
      context.save();
      context.fillStyle = PROVISIONAL_BAND;
      flags.forEach(function (flag, i) {
        if (flag) { context.fillRect(x.getPixelForValue(i) - width / 2, area.top, width, area.height); }
      });
      context.restore();
    },
  };

  function stackConfig(spec) {
    var datasets = spec.series.map(function (series, i) {
      return {
        label: series.name, stack: "slot",
        // an empty cell is left out, so the hover lists only what the slot holds
        data: series.y.map(function (v) { return Number(v) || null; }),
        backgroundColor: spec.provisional.map(function (p) { return color(i, p ? 0.5 : 1); }),
      };
    });
    return {
      type: "bar",
      data: {labels: spec.x, datasets: datasets},
      options: {
        interaction: {mode: "index", intersect: false},
        scales: {
          x: {stacked: true, grid: {display: false},
              ticks: {maxRotation: 0, autoSkipPadding: 12,
                      callback: function (v) { return slotTick(spec, spec.x[v]); }}},
          y: {stacked: true, beginAtZero: true,
              ticks: {callback: function (v) { return tickValue(spec, v); }}},
        },
        plugins: {
          provisionalBand: {flags: spec.provisional},
          legend: {display: spec.series.length > 1, position: "bottom"},
          tooltip: {
            filter: function (item) { return item.raw !== null; },
            callbacks: {
              title: function (items) { return slotTitle(spec, spec.x[items[0].dataIndex]); },
              label: function (item) {
                var note = spec.provisional[item.dataIndex] ? " (provisional)" : "";
                return item.dataset.label + ": " + value(spec, item.raw) + note;
              },
            },
          },
        },
      },
      height: 300,
    };
  }

  function topConfig(spec) {
    var items = spec.items;
    return {
      type: "bar",
      data: {
        labels: items.map(function (it) { return it.name; }),
        datasets: [{data: items.map(function (it) { return Number(it.value); }),
                    backgroundColor: COLORS[0]}],
      },
      options: {
        indexAxis: "y",
        scales: {
          x: {beginAtZero: true, ticks: {callback: function (v) { return tickValue(spec, v); }}},
          y: {grid: {display: false},
              ticks: {autoSkip: false, callback: function (v) {
                var name = items[v].name;
                return name.length > NAME_CHARS ? name.slice(0, NAME_CHARS - 1) + "…" : name;
              }}},
        },
        plugins: {
          legend: {display: false},
          tooltip: {callbacks: {
            title: function (rows) { return items[rows[0].dataIndex].name; },
            label: function (row) { return value(spec, row.raw); },
            afterLabel: function (row) {
              var item = items[row.dataIndex];
              return item.key && item.key !== item.name ? item.key : "";
            },
          }},
        },
      },
      height: Math.max(180, 34 * items.length + 70),
    };
  }

  function draw(element) {
    var island = document.getElementById(element.dataset.chart);
    if (!island) { return; }
    var spec = JSON.parse(island.textContent);
    var config = spec.kind === "top" ? topConfig(spec) : stackConfig(spec);
    var Chart = window.Chart;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = css("--muted");
    Chart.defaults.borderColor = css("--line");
    Object.assign(config.options, {
      animation: false, responsive: true, maintainAspectRatio: false,
      layout: {padding: 4},
    });
    element.style.height = config.height + "px";
    var canvas = element.querySelector("canvas") || element.appendChild(document.createElement("canvas"));
    var drawn = Chart.getChart(canvas);
    if (drawn) { drawn.destroy(); }
    new Chart(canvas, {type: config.type, data: config.data, options: config.options,
                       plugins: [provisionalBand]});
  }

  function drawAll(root) {
    if (!root) { return; }
    withLibrary(function () { root.querySelectorAll("[data-chart]").forEach(draw); });
  }

  function destroyAll(root) {
    if (!window.Chart || !root) { return; }
    root.querySelectorAll("[data-chart] canvas").forEach(function (canvas) {
      var chart = window.Chart.getChart(canvas);
      if (chart) { chart.destroy(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:beforeSwap", function (event) { destroyAll(event.detail.target); });
  document.addEventListener("htmx:afterSwap", function (event) { drawAll(event.detail.target); });
  // Dark or light as the system says, also when it changes while the page is open.
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () {
    drawAll(document);
  });
})();
