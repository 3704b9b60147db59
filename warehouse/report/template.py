"""The report page: Jinja2 template with inline styles and scripts (kept in Python so it ships with the package)."""

from __future__ import annotations

import jinja2

TEMPLATE = r"""<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t.title }} — {{ as_of.strftime('%d.%m.%Y') }}</title>
<style>
  body { font-family: Arial, Helvetica, sans-serif; margin: 0; color: #1d2733; background: #f4f6f9; }
  header { background: #1f3b5c; color: #fff; padding: 18px 28px; }
  header h1 { margin: 0 0 6px; font-size: 22px; }
  header .meta { font-size: 13px; opacity: .85; }
  nav { padding: 10px 28px; background: #e6ebf2; font-size: 14px; }
  nav a { margin-right: 16px; color: #1f3b5c; text-decoration: none; }
  main { padding: 8px 28px 28px; max-width: 1400px; }
  section { background: #fff; border-radius: 6px; padding: 14px 20px 18px; margin: 18px 0;
            box-shadow: 0 1px 3px rgba(0,0,0,.08); }
  section h2 { margin: 0 0 6px; font-size: 19px; color: #1f3b5c; }
  section h3 { margin: 14px 0 4px; font-size: 15px; }
  .intro { font-size: 13px; color: #556; margin: 0 0 8px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 12px; }
  .chart-box { min-width: 0; }
  .chart { width: 100%; min-height: 200px; }
  .no-data { border: 1px dashed #b8c2cf; border-radius: 4px; padding: 22px; color: #6b7684; background: #fafbfc;
             font-size: 14px; text-align: center; }
  table.data { border-collapse: collapse; font-size: 13px; margin-top: 10px; }
  table.data th, table.data td { border-bottom: 1px solid #e3e7ed; padding: 4px 10px; text-align: right; }
  table.data th:first-child, table.data td:first-child { text-align: left; }
  table.data th { background: #f0f3f7; }
  footer { font-size: 12px; color: #778; padding: 0 28px 24px; }
  @media print { nav { display: none; } section { break-inside: avoid; box-shadow: none; } }
</style>
</head>
<body data-lang="{{ lang }}">
<header>
  <h1>{{ t.title }}</h1>
  <div class="meta">{{ t.report_date }}: {{ as_of.strftime('%d.%m.%Y') }} · {{ t.built_at }}: {{ built_at }}
  {% if published_at %} · {{ t.published_at }}: {{ published_at }}{% endif %}</div>
</header>
<nav>{% for s in sections %}<a href="#{{ s.section_id }}">{{ s.title }}</a>{% endfor %}</nav>
<main>
{% for s in sections %}
<section id="{{ s.section_id }}" data-section="{{ s.section_id }}">
  <h2>{{ s.title }}</h2>
  {% if s.intro %}<p class="intro">{{ s.intro }}</p>{% endif %}
  {% if s.no_data %}
  <div class="no-data" data-no-data="{{ s.section_id }}">{{ s.no_data }}</div>
  {% else %}
  <div class="grid">
  {% for c in s.charts %}
    <div class="chart-box">
      <h3>{{ c.title }}</h3>
      {% if c.figure is not none %}
      <div class="chart" id="chart-{{ c.chart_id }}" data-chart-id="{{ c.chart_id }}" data-rendered="pending"></div>
      {% else %}
      <div class="no-data" data-no-data="{{ c.chart_id }}">{{ c.no_data or t.no_data }}</div>
      {% endif %}
    </div>
  {% endfor %}
  </div>
  {% for tbl in s.tables %}{{ tbl | safe }}{% endfor %}
  {% endif %}
</section>
{% endfor %}
</main>
<footer>{{ t.footer }} {{ t.lang_other }}</footer>
<script>{{ plotly_js | safe }}</script>
<script type="application/json" id="report-figures">{{ figures_json | safe }}</script>
<script>
(function () {
  "use strict";
  var figures = JSON.parse(document.getElementById("report-figures").textContent);
  // Marks Plotly drew: bars/funnel segments (g.point), markers (path.point), lines (path.js-line), pie slices.
  function marks(gd) {
    return gd.querySelectorAll(".point, path.js-line, g.slice").length;
  }
  var jobs = Object.keys(figures).map(function (id) {
    var el = document.getElementById("chart-" + id);
    var fig = figures[id];
    return Plotly.newPlot(el, fig.data, fig.layout, {displaylogo: false, responsive: true})
      .then(function (gd) {
        var n = marks(gd);
        el.setAttribute("data-points", String(n));
        el.setAttribute("data-traces", String((gd._fullData || []).length));
        el.setAttribute("data-rendered", n > 0 ? "ok" : "empty");
      })
      .catch(function (err) {
        el.setAttribute("data-rendered", "error");
        el.setAttribute("data-error", String(err && err.message || err));
      });
  });
  Promise.all(jobs).then(function () { document.body.setAttribute("data-charts-done", String(jobs.length)); });
})();
</script>
</body>
</html>
"""

_env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_template = _env.from_string(TEMPLATE)


def render(**context) -> str:
    # a literal "</script" inside inlined JSON/JS would end the script element early
    for key in ("figures_json",):
        context[key] = context[key].replace("</", "<\\/")
    return _template.render(**context)
