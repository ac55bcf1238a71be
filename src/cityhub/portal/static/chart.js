/* The dataset page's quick chart: draws with Plotly the figures the server already computed,
   read from <script type="application/json" id="chart-data"> (data, never run). Without
   JavaScript the table beside it shows the same figures. */
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("chart-data");
    var target = document.getElementById("chart");
    if (!source || !target || !window.Plotly) {
      return;
    }
    var spec = JSON.parse(source.textContent);
    var line = spec.kind === "line";
    var trace = {
      type: line ? "scatter" : "bar",
      mode: line ? "lines+markers" : undefined,
      x: spec.x,
      y: spec.y,
      marker: { color: "#0b5fa5" },
      hovertemplate: "%{x}: %{y}<extra></extra>"
    };
    var layout = {
      margin: { t: 16, r: 16, b: 64, l: 64 },
      font: { family: getComputedStyle(document.body).fontFamily, size: 13 },
      xaxis: { title: { text: spec.x_title }, type: line ? "date" : "category", automargin: true },
      yaxis: { title: { text: spec.y_title }, rangemode: "tozero", automargin: true },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)"
    };
    window.Plotly.newPlot(target, [trace], layout, {
      responsive: true,
      displaylogo: false,
      modeBarButtonsToRemove: ["select2d", "lasso2d"]
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
