/* databoard: charts drawn with the vendored Chart.js 4 (progressive enhancement).
 *
 * Needs vendor/chart/chart.umd.min.js (window.Chart) loaded first. Without it, or without
 * JavaScript, the browser shows the canvas's fallback content instead.
 *
 *   <canvas data-chart="score-over-time" data-chart-data="score-data">fallback: a table or a text</canvas>
 *   <script type="application/json" id="score-data">
 *     {"score_name": "accuracy", "lower_is_better": false,
 *      "points": [{"t": "2025-03-01T12:00:00+00:00", "score": 0.91, "team": "owls", "submission": "baseline"}]}
 *   </script>
 *   (Django: {{ data|json_script:"score-data" }} writes that script element.)
 *
 * draws every submission's score over time (a scatter, local time on the x axis) and the best score
 * so far (a stepped line that follows `lower_is_better`). Hovering a point shows its team, submission,
 * score and time. The canvas gets role="img" and, unless it has one, an aria-label that sums it up.
 *
 * window.DataboardCharts.enhance(root) sets up the canvases under `root` (it runs by itself on
 * DOMContentLoaded, htmx:afterSwap and htmx:historyRestore; running it twice is harmless).
 * Chart.getChart(canvas) gives a canvas's Chart instance.
 */
(function () {
  "use strict";

  var Chart = window.Chart;
  if (!Chart) { return; } // the library did not load: the fallback content stays

  var css = getComputedStyle(document.documentElement);
  function cssVar(name, fallback) { return (css.getPropertyValue(name) || "").trim() || fallback; }
  var BRAND = cssVar("--brand", "#2553b8");
  var MUTED = cssVar("--muted", "#5b6475");
  var LINE = cssVar("--line", "#dfe3ea");
  var INK = cssVar("--ink", "#1b2230");
  var POINT = "rgba(91, 100, 117, .45)", POINT_LINE = "rgba(91, 100, 117, .8)"; // --muted, see-through
  var locale = document.documentElement.lang || undefined;
  Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily || Chart.defaults.font.family;
  Chart.defaults.color = MUTED;

  var MINUTE = 60e3, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
  // Tick steps for the time axis: [unit, count, approximate length in ms].
  var STEPS = [
    ["minute", 1, MINUTE], ["minute", 5, 5 * MINUTE], ["minute", 15, 15 * MINUTE], ["minute", 30, 30 * MINUTE],
    ["hour", 1, HOUR], ["hour", 3, 3 * HOUR], ["hour", 6, 6 * HOUR], ["hour", 12, 12 * HOUR],
    ["day", 1, DAY], ["day", 2, 2 * DAY], ["day", 7, 7 * DAY], ["day", 14, 14 * DAY],
    ["month", 1, 30 * DAY], ["month", 3, 91 * DAY], ["month", 6, 182 * DAY], ["year", 1, 365 * DAY],
  ];

  function fmt(options) {
    try { return new Intl.DateTimeFormat(locale, options); } catch (e) { return new Intl.DateTimeFormat(undefined, options); }
  }
  var FORMATS = {
    time: fmt({hour: "2-digit", minute: "2-digit"}),
    dayTime: fmt({month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"}),
    day: fmt({month: "short", day: "numeric"}),
    month: fmt({month: "short", year: "numeric"}),
    year: fmt({year: "numeric"}),
    full: fmt({year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"}),
    date: fmt({year: "numeric", month: "short", day: "numeric"}),
  };

  // Ticks at round local times (midnights, whole hours, first days of months...).
  function timeTicks(min, max) {
    var span = Math.max(max - min, MINUTE);
    var step = STEPS[STEPS.length - 1];
    for (var i = 0; i < STEPS.length; i++) {
      if (span / STEPS[i][2] <= 7) { step = STEPS[i]; break; }
    }
    var unit = step[0], count = step[1];
    var d = new Date(min);
    d.setSeconds(0, 0);
    if (unit === "minute") { d.setMinutes(Math.floor(d.getMinutes() / count) * count); }
    if (unit === "hour") { d.setMinutes(0); d.setHours(Math.floor(d.getHours() / count) * count); }
    if (unit === "day" || unit === "month" || unit === "year") { d.setHours(0, 0); }
    if (unit === "month" || unit === "year") { d.setDate(1); }
    if (unit === "month") { d.setMonth(Math.floor(d.getMonth() / count) * count); }
    if (unit === "year") { d.setMonth(0); }
    if (unit === "day" && count === 7) { d.setDate(d.getDate() - ((d.getDay() + 6) % 7)); } // Mondays
    var ticks = [];
    for (var guard = 0; d.getTime() <= max && guard < 500; guard++) {
      if (d.getTime() >= min) { ticks.push({value: d.getTime()}); }
      if (unit === "minute") { d.setMinutes(d.getMinutes() + count); }
      else if (unit === "hour") { d.setHours(d.getHours() + count); }
      else if (unit === "day") { d.setDate(d.getDate() + count); }
      else if (unit === "month") { d.setMonth(d.getMonth() + count); }
      else { d.setFullYear(d.getFullYear() + count); }
    }
    var sameDay = new Date(min).toDateString() === new Date(max).toDateString();
    var format = unit === "year" ? FORMATS.year : unit === "month" ? FORMATS.month : unit === "day" ? FORMATS.day
      : sameDay ? FORMATS.time : FORMATS.dayTime;
    return {ticks: ticks, format: format};
  }

  function formatScore(score) {
    if (!isFinite(score)) { return String(score); }
    return String(Number(score.toPrecision(6)));
  }

  function readData(canvas) {
    var id = canvas.getAttribute("data-chart-data");
    var script = id && document.getElementById(id);
    if (!script) { throw new Error("no <script type=\"application/json\" id=\"" + id + "\"> for the chart"); }
    var data = JSON.parse(script.textContent);
    var points = (data.points || []).filter(function (p) {
      return p && typeof p.score === "number" && isFinite(p.score) && isFinite(Date.parse(p.t));
    }).map(function (p) {
      return {x: Date.parse(p.t), y: p.score, team: String(p.team || ""), submission: String(p.submission || "")};
    });
    points.sort(function (a, b) { return a.x - b.x; });
    return {name: String(data.score_name || "score"), lowerIsBetter: !!data.lower_is_better, points: points};
  }

  // The best score after each submission: one point per improvement, then one at the last submission.
  function bestSoFar(points, lowerIsBetter) {
    var line = [], best = null;
    points.forEach(function (p) {
      if (best === null || (lowerIsBetter ? p.y < best.y : p.y > best.y)) {
        best = p;
        p.improves = true;
        line.push({x: p.x, y: p.y, team: p.team, submission: p.submission});
      }
    });
    var last = points[points.length - 1];
    if (best && last.x > line[line.length - 1].x) {
      line.push({x: last.x, y: best.y, team: best.team, submission: best.submission});
    }
    return {line: line, best: best};
  }

  function describe(data, best) {
    var pts = data.points;
    var first = FORMATS.date.format(pts[0].x), last = FORMATS.date.format(pts[pts.length - 1].x);
    return "Chart of " + data.name + " over time: " + pts.length + " submission" + (pts.length === 1 ? "" : "s") +
      (first === last ? " on " + first : " from " + first + " to " + last) + ". Best " + data.name + " " +
      formatScore(best.y) + " by " + best.team + " (" + best.submission + "); " +
      (data.lowerIsBetter ? "lower" : "higher") + " is better.";
  }

  function render(canvas) {
    var data = readData(canvas);
    var box = canvas.parentElement;
    if (!box.classList.contains("db-chart")) {
      // Chart.js sizes the canvas to its parent: give it one of its own, with a height.
      box = document.createElement("div");
      box.className = "db-chart";
      canvas.insertAdjacentElement("beforebegin", box);
      box.appendChild(canvas);
    }
    box.style.position = "relative";
    box.style.width = "100%";
    box.style.height = canvas.getAttribute("data-chart-height") || "clamp(240px, 42vw, 380px)";
    var empty = box.querySelector(".db-chart-empty");
    if (empty) { empty.remove(); }

    if (!data.points.length) {
      canvas.hidden = true;
      var note = document.createElement("p");
      note.className = "muted db-chart-empty";
      note.textContent = "No scored submissions yet.";
      box.style.height = "";
      box.appendChild(note);
      return null;
    }
    canvas.hidden = false;

    var result = bestSoFar(data.points, data.lowerIsBetter);
    canvas.setAttribute("role", "img");
    if (!canvas.hasAttribute("aria-label") || canvas.dataset.chartLabelAuto) {
      canvas.setAttribute("aria-label", describe(data, result.best));
      canvas.dataset.chartLabelAuto = "1";
    }

    var xs = data.points.map(function (p) { return p.x; });
    var min = Math.min.apply(null, xs), max = Math.max.apply(null, xs);
    var pad = max > min ? (max - min) * 0.03 : HOUR;
    min -= pad;
    max += pad;
    var axis = timeTicks(min, max);

    return new Chart(canvas, {
      data: {
        datasets: [
          {
            type: "line", label: "Best so far", data: result.line, stepped: "before", order: 2,
            borderColor: BRAND, backgroundColor: BRAND, borderWidth: 2, pointRadius: 0, pointHoverRadius: 0,
            pointHitRadius: 0, fill: false,
          },
          {
            type: "scatter", label: "Submissions", data: data.points, order: 1,
            pointRadius: function (ctx) { return ctx.raw && ctx.raw.improves ? 4.5 : 3.5; },
            pointHoverRadius: 6,
            backgroundColor: function (ctx) { return ctx.raw && ctx.raw.improves ? BRAND : POINT; },
            borderColor: function (ctx) { return ctx.raw && ctx.raw.improves ? "#fff" : POINT_LINE; },
            borderWidth: 1,
          },
        ],
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false, parsing: false, normalized: true,
        interaction: {mode: "nearest", intersect: true},
        scales: {
          x: {
            type: "linear", min: min, max: max,
            afterBuildTicks: function (scale) { scale.ticks = axis.ticks; },
            ticks: {color: MUTED, maxRotation: 0, autoSkip: true,
              callback: function (value) { return axis.format.format(value); }},
            grid: {color: LINE},
          },
          y: {
            type: "linear", grace: "5%",
            title: {display: true, text: data.name + " (" + (data.lowerIsBetter ? "lower" : "higher") + " is better)",
              color: INK},
            ticks: {color: MUTED},
            grid: {color: LINE},
          },
        },
        plugins: {
          legend: {
            position: "bottom",
            labels: {
              color: INK, usePointStyle: true, boxHeight: 8, boxWidth: 8,
              generateLabels: function (chart) {
                var items = Chart.defaults.plugins.legend.labels.generateLabels(chart);
                items.forEach(function (item) {
                  if (item.datasetIndex === 0) {
                    item.pointStyle = "line"; item.strokeStyle = BRAND; item.lineWidth = 2;
                  } else {
                    item.pointStyle = "circle"; item.fillStyle = POINT; item.strokeStyle = POINT_LINE; item.lineWidth = 1;
                  }
                });
                return items;
              },
            },
          },
          tooltip: {
            usePointStyle: true,
            filter: function (item) { return item.dataset.type === "scatter"; },
            callbacks: {
              title: function (items) { return items.length ? FORMATS.full.format(items[0].raw.x) : ""; },
              label: function (item) {
                var p = item.raw;
                return [p.team + " \u2013 " + p.submission,
                  data.name + ": " + formatScore(p.y) + (p.improves ? " (new best)" : "")];
              },
            },
          },
        },
      },
    });
  }

  function enhance(root) {
    root = root && root.querySelectorAll ? root : document;
    var canvases = Array.prototype.slice.call(root.querySelectorAll('canvas[data-chart="score-over-time"]'));
    if (root.matches && root.matches('canvas[data-chart="score-over-time"]')) { canvases.unshift(root); }
    canvases.forEach(function (canvas) {
      if (Chart.getChart(canvas)) { return; }
      try {
        render(canvas);
      } catch (error) {
        if (window.console) { console.warn("databoard chart: kept the fallback content", error); }
      }
    });
  }

  window.DataboardCharts = {enhance: enhance};

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  } else {
    enhance(document);
  }
  document.addEventListener("htmx:afterSwap", function () { enhance(document); });
  document.addEventListener("htmx:historyRestore", function () { enhance(document); });
  // Free the charts of content that htmx removes.
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    var el = event.target;
    var chart = el && el.tagName === "CANVAS" && Chart.getChart(el);
    if (chart) { chart.destroy(); }
  });
})();
