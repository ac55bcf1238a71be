/* The dataset page's quick chart and map, drawn with Plotly from what the server already
   computed and embedded in <script type="application/json"> elements (data, never run).
   Without JavaScript the page shows the same figures as tables.
   The map is a plain scatter of longitude and latitude: no tile server and no world outline
   to fetch, so it works offline. Its axes keep distances true at the points' mean latitude
   (a degree of longitude is cos(latitude) times a degree of latitude). */
(function () {
  "use strict";

  var CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

  function layout(spec, margins, xaxis, yaxis, extra) {
    var out = {
      margin: margins,
      font: { family: getComputedStyle(document.body).fontFamily, size: 13 },
      xaxis: Object.assign({ title: { text: spec.x_title }, automargin: true }, xaxis),
      yaxis: Object.assign({ title: { text: spec.y_title }, automargin: true }, yaxis),
      paper_bgcolor: "rgba(0,0,0,0)"
    };
    return Object.assign(out, extra);
  }

  function chart(spec) {
    var line = spec.kind === "line";
    var trace = {
      type: line ? "scatter" : "bar",
      mode: line ? "lines+markers" : undefined,
      x: spec.x,
      y: spec.y,
      marker: { color: "#0b5fa5" },
      hovertemplate: "%{x}: %{y}<extra></extra>"
    };
    return [[trace], layout(spec, { t: 16, r: 16, b: 64, l: 64 },
      { type: line ? "date" : "category" }, { rangemode: "tozero" },
      { plot_bgcolor: "rgba(0,0,0,0)" })];
  }

  function map(spec) {
    var sum = 0;
    for (var i = 0; i < spec.lat.length; i += 1) {
      sum += spec.lat[i];
    }
    var meanLat = spec.lat.length ? sum / spec.lat.length : 0;
    var trace = {
      type: "scatter",
      mode: "markers",
      x: spec.lon,
      y: spec.lat,
      text: spec.text,
      marker: { size: 7, color: "#0b5fa5", opacity: 0.75 },
      hovertemplate: "%{text}<br>%{x:.5f}, %{y:.5f}<extra></extra>"
    };
    return [[trace], layout(spec, { t: 16, r: 16, b: 56, l: 64 }, { zeroline: false },
      { zeroline: false, scaleanchor: "x",
        scaleratio: 1 / Math.max(Math.cos((meanLat * Math.PI) / 180), 0.1) },
      { hovermode: "closest", plot_bgcolor: "#f6f8fa" })];
  }

  function draw(dataId, targetId, build) {
    var source = document.getElementById(dataId);
    var target = document.getElementById(targetId);
    if (!source || !target || !window.Plotly) {
      return;
    }
    var plot = build(JSON.parse(source.textContent));
    window.Plotly.newPlot(target, plot[0], plot[1], CONFIG);
  }

  function drawAll() {
    draw("chart-data", "chart", chart);
    draw("map-data", "map", map);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
