"""Reading the rendered report's DOM (from headless Chromium) back into facts the tests assert."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _Charts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.charts: dict[str, dict] = {}
        self.no_data: list[str] = []
        self.body: dict = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if "data-chart-id" in a:
            self.charts[a["data-chart-id"]] = a
        if "data-no-data" in a:
            self.no_data.append(a["data-no-data"])


def parse_dom(dom: str) -> _Charts:
    p = _Charts()
    p.feed(dom)
    return p


def assert_all_charts_rendered(dom: str, planned: set[str]) -> _Charts:
    p = parse_dom(dom)
    assert set(p.charts) == planned, (sorted(p.charts), sorted(planned))
    for cid, a in p.charts.items():
        assert a.get("data-rendered") == "ok", (cid, a)
        assert int(a.get("data-points", "0")) > 0, (cid, a)
        assert int(a.get("data-traces", "0")) > 0, (cid, a)
    assert p.body.get("data-charts-done") == str(len(planned))
    # Plotly really drew SVG for each chart (not only our marker)
    assert dom.count('class="main-svg"') >= len(planned)
    return p


def external_references(page: str) -> list[str]:
    """Anything the page would fetch from the network: <script src>, <link href>, CSS @import/url(http...)."""
    outside_scripts = re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.S)
    refs = re.findall(r"""<(?:script|link|img|iframe)\b[^>]*(?:src|href)\s*=\s*["']?(?:https?:)?//[^"'\s>]+""",
                      page, flags=re.I)
    refs += re.findall(r"@import|url\(\s*['\"]?(?:https?:)?//", outside_scripts, flags=re.I)
    return refs
