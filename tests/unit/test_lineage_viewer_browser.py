"""The lineage viewer works in a real browser: click a table, click a column, zoom, pan (headless Chromium)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lakehouse.lineage import write_graph
from tests.browser import dump_dom

# Runs after the viewer's own script: drives it like a user and writes what it saw onto <body>.
PROBE = """<script>
addEventListener('load', () => {
  const svg = document.getElementById('graph'), side = document.getElementById('side'), out = document.body.dataset;
  const vb = () => svg.getAttribute('viewBox');
  const node = svg.querySelector('.node[data-table="silver.orders"]');
  node.dispatchEvent(new MouseEvent('mousedown', {bubbles: true, clientX: 10, clientY: 10}));
  window.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
  node.dispatchEvent(new MouseEvent('click', {bubbles: true}));
  out.title = side.querySelector('h2').textContent;
  out.columns = side.querySelectorAll('tr.col').length;
  out.highlighted = svg.querySelectorAll('.node.down').length + ':' + svg.querySelectorAll('.node.up').length;
  const column = side.querySelector('tr.col[data-col="silver.orders.order_date"]');
  column.dispatchEvent(new MouseEvent('click', {bubbles: true}));
  out.usedBy = document.getElementById('col-detail').textContent;
  const before = vb();
  document.getElementById('zoom-in').click();
  out.zoomed = String(vb() !== before);
  const zoomed = vb();
  svg.dispatchEvent(new MouseEvent('mousedown', {bubbles: true, clientX: 300, clientY: 300}));
  window.dispatchEvent(new MouseEvent('mousemove', {bubbles: true, clientX: 200, clientY: 250}));
  window.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
  out.panned = String(vb() !== zoomed);
  out.probed = 'yes';
});
</script>"""


@pytest.mark.slow
def test_viewer_selects_tables_and_columns_zooms_and_pans(tmp_path: Path) -> None:
    page = write_graph(tmp_path / "lineage.html").read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = dump_dom(probed, tmp_path, window="1400,900")
    body = re.search(r"<body([^>]*)>", dom).group(1)
    seen = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body))
    assert seen.get("probed") == "yes", body
    assert seen["title"].startswith("silver.orders")
    assert int(seen["columns"]) >= 10
    downstream, _ = (int(x) for x in seen["highlighted"].split(":"))
    assert downstream >= 3  # the gold tables built from orders light up
    assert "gold.customer_ltv_cohorts.cohort_month" in seen["used-by"]
    assert (seen["zoomed"], seen["panned"]) == ("true", "true")
