import json
import os

import pytest

from deeprecipe.cli import main as deeprecipe_main
from deeprecipe.lab import registry, run_experiments, write_report
from deeprecipe.lab.storage import ResultsError

from .helpers import parse_report
from .toy import TOY, TOY_BAD_PLOT, TOY_FAILING


@pytest.fixture
def toys():
    for e in (TOY, TOY_FAILING, TOY_BAD_PLOT):
        registry.register(e)
    yield
    for e in (TOY, TOY_FAILING, TOY_BAD_PLOT):
        registry.unregister(e.id)


def test_report_renders_every_experiment_with_embedded_figures(tmp_path, toys):
    run_experiments([TOY, TOY_FAILING, TOY_BAD_PLOT], preset="test", out=tmp_path, progress=False)
    rep = write_report(tmp_path)
    text = open(rep["html"], encoding="utf-8").read()
    p = parse_report(text)
    assert {"exp-toy-ok", "exp-toy-failing", "exp-toy-bad-plot"} <= set(p.ids)
    assert len(p.images) == 1                       # only toy-ok drew a figure
    assert "this experiment always fails" in text and "cannot draw" in text
    assert "A toy claim that holds." in text and "Environment" in text and "numpy" in text
    assert "http://" not in text and "https://" not in text   # opens offline
    md = open(rep["markdown"], encoding="utf-8").read()
    assert "| toy-ok | holds |" in md and "| toy-failing | failed |" in md
    assert "1 hold" in md and "2 failed" in md


def test_report_redraws_a_missing_figure_from_saved_metrics(tmp_path, toys):
    run_experiments([TOY], preset="test", out=tmp_path, progress=False)
    os.remove(tmp_path / "toy-ok" / "figure.png")
    rep = write_report(tmp_path)
    assert (tmp_path / "toy-ok" / "figure.png").is_file()
    assert len(parse_report(open(rep["html"]).read()).images) == 1


def test_report_recomputes_verdict_from_saved_numbers(tmp_path, toys):
    run_experiments([TOY], preset="test", out=tmp_path, progress=False)
    # tamper with a saved number: the verdict must follow the saved metrics
    for s in range(3):
        path = tmp_path / "toy-ok" / f"seed-{s}" / "unit.json"
        unit = json.loads(path.read_text())
        unit["metrics"]["score"] = 0.1
        path.write_text(json.dumps(unit))
    rep = write_report(tmp_path)
    [entry] = rep["entries"]
    assert entry.outcome.verdict.verdict == "does not hold"


def test_report_errors(tmp_path, toys):
    with pytest.raises(ResultsError, match="does not exist"):
        write_report(tmp_path / "missing")
    with pytest.raises(ResultsError, match="holds no lab results"):
        write_report(tmp_path)
    run_experiments([TOY], preset="test", out=tmp_path, progress=False)
    with pytest.raises(ResultsError, match="one experiment's directory"):
        write_report(tmp_path / "toy-ok")
    # an old-format experiment shows up as failed with the reason, the others still render
    run_experiments([TOY_BAD_PLOT], preset="test", out=tmp_path, progress=False)
    hdr = tmp_path / "toy-bad-plot" / "experiment.json"
    d = json.loads(hdr.read_text())
    d["format"] = 0
    hdr.write_text(json.dumps(d))
    rep = write_report(tmp_path)
    by_id = {e.id: e for e in rep["entries"]}
    assert by_id["toy-ok"].outcome.ok
    assert "format 0" in by_id["toy-bad-plot"].outcome.error


def test_cli_list_run_plot_report(tmp_path, toys, capsys):
    assert deeprecipe_main(["lab", "list"]) == 0
    out = capsys.readouterr().out
    assert "toy-ok" in out and "A toy claim that holds." in out

    res = str(tmp_path / "res")
    code = deeprecipe_main(["lab", "run", "toy-ok", "--preset", "test", "--out", res, "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "| toy-ok | holds |" in out and "report.html" in out
    assert os.path.isfile(os.path.join(res, "report.html"))

    os.remove(os.path.join(res, "toy-ok", "figure.png"))
    assert deeprecipe_main(["lab", "plot", res]) == 0
    assert os.path.isfile(os.path.join(res, "toy-ok", "figure.png"))
    assert deeprecipe_main(["lab", "plot", os.path.join(res, "toy-ok")]) == 0
    assert "toy-ok: holds" in capsys.readouterr().out

    assert deeprecipe_main(["lab", "report", res]) == 0
    assert "toy-ok" in capsys.readouterr().out

    code = deeprecipe_main(["lab", "run", "toy-failing", "--preset", "test", "--out", res, "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1 and "| toy-failing | failed |" in out


def test_cli_bad_input(tmp_path, toys, capsys):
    assert deeprecipe_main(["lab", "run", "toy-okk", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown experiment 'toy-okk'" in err and "Did you mean 'toy-ok'" in err and "toy-failing" in err
    assert deeprecipe_main(["lab", "run", "--out", str(tmp_path)]) == 2
    assert "name experiments to run" in capsys.readouterr().err
    assert deeprecipe_main(["lab", "run", "toy-ok", "--all"]) == 2
    assert deeprecipe_main(["lab", "run", "toy-ok", "--jobs", "0"]) == 2
    assert deeprecipe_main(["lab", "report", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_summary_groups_experiments_under_the_claims_sections():
    from deeprecipe.lab.experiment import Verdict
    from deeprecipe.lab.report import Entry, markdown_summary, render_html
    from deeprecipe.lab.runner import Outcome

    def entry(exp_id):
        return Entry(exp_id, Outcome(exp_id, "ok", verdict=Verdict("holds", {"x": 1.0}, "x > 0"), seeds=[0]))
    entries = [entry("deep-sigmoid"), entry("relu-fixes-depth"), entry("overfit"), entry("toy-ok")]
    md = markdown_summary(entries)
    heads = [line for line in md.splitlines() if line.startswith("| **")]
    assert heads == ["| **A. Getting good results on training data** | | | | |",
                     "| **C. Getting good results on test data** | | | | |",
                     "| **Other experiments** | | | | |"]
    assert md.index("deep-sigmoid") < md.index("relu-fixes-depth") < md.index("C. Getting") < md.index("overfit")
    html_text = render_html(entries)
    assert html_text.count('<tr class="section">') == 3
    assert registry.section_of("fizzbuzz").startswith("D.") and registry.section_of("nope") == "Other experiments"
    assert len(registry.CLAIMS_ORDER) == len(set(registry.CLAIMS_ORDER)) == 42


def test_report_compare_shows_the_other_runs_verdict_and_marks_differences(tmp_path, toys, capsys):
    import shutil
    quick, full = tmp_path / "quick", tmp_path / "full"
    run_experiments([TOY, TOY_FAILING], preset="test", out=quick, progress=False)
    run_experiments([TOY, TOY_FAILING], preset="full", out=full, progress=False)
    rep = write_report(quick, compare=full)
    md = open(rep["markdown"], encoding="utf-8").read()
    assert "| other run |" in md
    assert "| full: holds (2 seeds) |" in md.split("| toy-ok |")[1].splitlines()[0]
    assert "full: failed (0 seeds) |" in md.split("| toy-failing |")[1].splitlines()[0]   # both failed: same
    assert "differs" not in md
    for seed_dir in (full / "toy-ok").glob("seed-*"):     # the other run of toy-ok now has no result
        shutil.rmtree(seed_dir)
    assert deeprecipe_main(["lab", "report", str(quick), "--compare", str(full)]) == 1   # toy-failing failed
    out = capsys.readouterr().out
    assert "full: failed (0 seeds) — differs |" in out.split("| toy-ok |")[1].splitlines()[0]
    assert "Other run (full: failed (0 seeds) — differs)" in open(quick / "report.html", encoding="utf-8").read()
    plain = write_report(quick)["summary"]                                 # without --compare: no column
    assert "other run" not in plain


def test_report_says_when_a_verdict_rests_on_fewer_seeds_than_the_run_planned(tmp_path, toys):
    import shutil
    run_experiments([TOY], preset="test", out=tmp_path, progress=False)     # the test preset plans 3 seeds
    assert "Notes" not in write_report(tmp_path)["summary"]
    shutil.rmtree(tmp_path / "toy-ok" / "seed-2")                            # as if the run were cut short
    md = write_report(tmp_path)["summary"]
    assert "- **toy-ok**: 2 of the 3 seeds the last run planned are saved" in md
    assert "2 of the 3 seeds" in open(tmp_path / "report.html", encoding="utf-8").read()
    run_experiments([TOY], preset="test", out=tmp_path, progress=False)     # finishing the run clears it
    assert "Notes" not in write_report(tmp_path)["summary"]
