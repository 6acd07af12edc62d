"""The HTML pages of `report --html` and `simulate --html`, laid out by a real browser.

Debian's chromium (installed by .ci/install-tools) loads each page headless at a laptop width. A
copy of the page gets a small script that measures the laid-out page and writes what it found
into the DOM, which chromium prints with --dump-dom: the page must not be wider than the window,
chart legends must not overlap the plot area (where the data is), the x axis must have date
labels, and no two labels may overlap. The page itself has no script; only the measured copy does.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.cli import run_cli
from test_report import FixtureServer, run_report
from test_simulate import Repo, go_sum

MEASURE = """
<script>
function box(element) { const r = element.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }
function overlaps(a, b) { return a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]; }
const problems = [];
const width = document.documentElement.scrollWidth;
if (width > window.innerWidth) problems.push("page is " + width + "px wide in a " + window.innerWidth + "px window");
const charts = Array.from(document.querySelectorAll("svg"));
charts.forEach((svg, number) => {
  const name = svg.getAttribute("aria-label");
  const plot = svg.querySelector(".plot-area");
  if (!plot) { problems.push(name + ": no plot area"); return; }
  const plotBox = box(plot);
  svg.querySelectorAll(".legend rect, .legend text").forEach(item => {
    if (overlaps(box(item), plotBox)) problems.push(name + ": legend '" + item.textContent + "' overlaps the plot");
  });
  const labels = Array.from(svg.querySelectorAll("text")).filter(t => !t.closest(".legend"));
  const legendLabels = Array.from(svg.querySelectorAll(".legend text"));
  const all = labels.concat(legendLabels);
  for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++)
    if (overlaps(box(all[i]), box(all[j]))) problems.push(name + ": '" + all[i].textContent + "' overlaps '" + all[j].textContent + "'");
  if (svg.querySelectorAll(".x-tick").length === 0) problems.push(name + ": no x axis labels");
  const svgBox = box(svg);
  svg.querySelectorAll("text").forEach(t => {
    const b = box(t);
    if (b[0] < svgBox[0] - 1 || b[2] > svgBox[2] + 1 || b[3] > svgBox[3] + 1) problems.push(name + ": '" + t.textContent + "' is cut off");
  });
});
document.body.setAttribute("data-layout", JSON.stringify({charts: charts.length, problems: problems}));
</script>
"""


def chromium() -> str:
    found = shutil.which("chromium")
    assert found, "chromium is missing: run .ci/install-tools"
    return found


def measure(page: Path, tmp_path: Path, width: int = 1280) -> dict:
    measured = tmp_path / f"measured-{page.name}"
    measured.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    completed = subprocess.run(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--window-size={width},900", "--dump-dom",
         measured.as_uri()],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)},
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    found = re.search(r'data-layout="([^"]*)"', completed.stdout)
    assert found, "the page did not render (no layout data in chromium's DOM)"
    return json.loads(html.unescape(found.group(1)))


def test_report_page_lays_out_without_overflow_or_overlap(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    with FixtureServer("github-basic") as server:
        completed = run_report("--github", "acme/svc", "--api-url", server.url, "--last", "5", "--html", str(page))
    assert completed.returncode == 0, completed.stderr
    layout = measure(page, tmp_path)
    assert layout == {"charts": 2, "problems": []}


@pytest.mark.parametrize("width", [1280, 800])
def test_simulate_page_lays_out_without_overflow_or_overlap(tmp_path: Path, width: int) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n\ngo 1.22\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    for number in range(30):
        files = {"main.go": f"package main // {number}\n"}
        if number % 7 == 3:
            files["go.sum"] = go_sum(f"a.example/x@v1.{number}.0")
        repo.commit(f"change {number}", **files)
    page = tmp_path / "simulate.html"
    completed = run_cli("simulate", str(repo.root), "--html", str(page), "--costs",
                        str(Path(__file__).resolve().parents[1] / "bench" / "results" / "event_costs.json"))
    assert completed.returncode == 0, completed.stderr
    text = page.read_text()
    assert "<script" not in text and "Advice: " in text and "Projected CI time" in text
    layout = measure(page, tmp_path, width)
    assert layout == {"charts": 2, "problems": []}


def test_the_measuring_script_reports_a_legend_on_the_lines(tmp_path: Path) -> None:
    # The check can fail: the old layout put the restore chart's legend inside the plot.
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><body><svg aria-label="bad" width="300" height="200" viewBox="0 0 300 200">'
        '<rect class="plot-area" x="40" y="10" width="250" height="150" fill="none"/>'
        '<g class="legend"><text x="44" y="24">mod</text></g><text class="x-tick" x="60" y="180">01-02</text>'
        "</svg></body></html>")
    layout = measure(page, tmp_path)
    assert layout["problems"] == ["bad: legend 'mod' overlaps the plot"]
