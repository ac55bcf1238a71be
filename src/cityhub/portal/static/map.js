/* The dataset page's map: the points the server embedded in
   <script type="application/json" id="map-data">, drawn with Plotly as a plain scatter of
   longitude and latitude. No tile server and no world outline to fetch: it works offline.
   The axes keep distances true at the points' mean latitude (a degree of longitude is
   cos(latitude) times a degree of latitude). */
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("map-data");
    var target = document.getElementById("map");
    if (!source || !target || !window.Plotly) {
      return;
    }
    var spec = JSON.parse(source.textContent);
    var sum = 0;
    for (var i = 0; i < spec.lat.length; i += 1) {
      sum += spec.lat[i];
    }
    var meanLat = spec.lat.length ? sum / spec.lat.length : 0;
    var ratio = 1 / Math.max(Math.cos((meanLat * Math.PI) / 180), 0.1);
    var trace = {
      type: "scatter",
      mode: "markers",
      x: spec.lon,
      y: spec.lat,
      text: spec.text,
      marker: { size: 7, color: "#0b5fa5", opacity: 0.75 },
      hovertemplate: "%{text}<br>%{x:.5f}, %{y:.5f}<extra></extra>"
    };
    var layout = {
      margin: { t: 16, r: 16, b: 56, l: 64 },
      font: { family: getComputedStyle(document.body).fontFamily, size: 13 },
      xaxis: { title: { text: spec.x_title }, zeroline: false, automargin: true },
      yaxis: {
        title: { text: spec.y_title },
        zeroline: false,
        scaleanchor: "x",
        scaleratio: ratio,
        automargin: true
      },
      hovermode: "closest",
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "#f6f8fa"
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
