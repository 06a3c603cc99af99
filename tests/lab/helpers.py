"""Shared checks for lab tests: run an experiment's test preset, parse a report."""
import base64
from html.parser import HTMLParser

from deeprecipe.lab import run_experiments

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_VOID = {"meta", "img", "br", "hr", "link", "input"}


class ReportParser(HTMLParser):
    """Collects images and section ids, and checks that every element is closed in order."""

    def __init__(self):
        super().__init__()
        self.stack, self.images, self.ids, self.errors = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()


def parse_report(html_text: str) -> ReportParser:
    p = ReportParser()
    p.feed(html_text)
    p.close()
    assert not p.errors, p.errors
    assert p.stack == [], f"unclosed elements {p.stack}"
    for img in p.images:
        src = img["src"]
        assert src.startswith("data:image/png;base64,"), "figures must be embedded"
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG_MAGIC
    return p


def run_test_preset(experiment, out, seeds=None):
    """Run ``experiment``'s test preset into ``out``; assert metrics, figure and verdict exist."""
    [o] = run_experiments([experiment], preset="test", out=out, seeds=seeds, progress=False)
    assert o.ok, o.error
    assert o.verdict is not None and o.verdict.verdict in ("holds", "does not hold", "inconclusive")
    assert o.verdict.numbers and o.verdict.rule
    with open(o.figure, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    return o


def run_test_preset_and_report(experiment, out):
    """``run_test_preset``, then the report: one embedded figure in the experiment's section and
    the verdict recomputed from the saved metrics equal to the one the run gave."""
    from deeprecipe.lab import write_report
    o = run_test_preset(experiment, out)
    assert o.seeds == list(range(experiment.n_seeds("test")))
    rep = write_report(out)
    page = parse_report(open(rep["html"], encoding="utf-8").read())
    assert len(page.images) == 1 and f"exp-{experiment.id}" in page.ids
    assert rep["entries"][0].outcome.verdict == o.verdict
    return o
