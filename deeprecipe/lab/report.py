"""The report of a results directory: one self-contained HTML file and a Markdown summary.

``write_report(OUT)`` reads every ``OUT/<id>/`` the lab wrote, recomputes each verdict
from the saved metrics (and redraws a figure that is missing or older than its
metrics), and writes

* ``OUT/report.html``: a summary table (claim, verdict, deciding numbers, seeds, time),
  a section per experiment (figure embedded as base64 PNG, rule, numbers, settings,
  seeds, errors), and the environment (versions, backend, BLAS threads, device).  It
  has no external references: it opens offline and can be mailed as one file.
* ``OUT/report.md``: the summary table for terminals.
"""
from __future__ import annotations

import base64
import html
import json
import os
from dataclasses import dataclass, field

from ..validation.files import regular_file_inside
from . import registry, storage
from .experiment import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, Verdict
from .runner import Outcome, finalize, load_results, planned_seeds


@dataclass
class Entry:
    """One experiment as the report shows it."""
    id: str
    outcome: Outcome
    title: str = ""
    claim: str = ""
    source: list = field(default_factory=list)
    preset: str = ""
    config: dict = field(default_factory=dict)
    durations: list = field(default_factory=list)
    environment: dict = field(default_factory=dict)
    note: str = ""
    #: the same experiment in the results directory given to ``write_report(compare=...)``
    other: Entry | None = None


def attach_comparison(entries, other_out) -> int:
    """Give each entry the same experiment's entry from ``other_out`` (another results
    directory, typically the other preset: quick next to full); returns how many matched.
    The other directory's verdicts are recomputed from its saved metrics too."""
    others = {e.id: e for e in collect(other_out)}
    n = 0
    for e in entries:
        e.other = others.get(e.id)
        n += e.other is not None
    return n


def _other_text(e: Entry) -> str:
    """``'full: holds (3 seeds)'``, with ``' — differs'`` when its verdict is not this one's."""
    o = e.other
    if o is None:
        return ""
    text = f"{o.preset or '?'}: {_label(o.outcome)} ({len(o.outcome.seeds)} seeds)"
    return text + (" — differs" if _label(o.outcome) != _label(e.outcome) else "")


def _figure_stale(exp_dir: str) -> bool:
    fig = os.path.join(exp_dir, "figure.png")
    if os.path.islink(fig) or not os.path.isfile(fig):
        return True  # a link is never shown: redraw (the atomic write replaces the link itself)
    t = os.path.getmtime(fig)
    for name in os.listdir(exp_dir):
        unit = os.path.join(exp_dir, name, "unit.json")
        if name.startswith("seed-") and os.path.isfile(unit) and os.path.getmtime(unit) > t:
            return True
    return False


def collect(out) -> list:
    """Read (and re-judge) every experiment saved under ``out``; raises if there is none."""
    out = os.fspath(out)
    if storage.is_experiment_dir(out):
        raise storage.ResultsError(
            f"{out} is one experiment's directory; give the results directory above it "
            f"({os.path.dirname(os.path.abspath(out))})")
    dirs = storage.list_experiment_dirs(out)
    if not dirs:
        raise storage.ResultsError(f"{out} holds no lab results; run `deeprecipe lab run ... --out {out}` first")
    known = {e.id: e for e in registry.all_experiments()}
    entries = []
    for d in dirs:
        name = os.path.basename(d)
        try:
            entry = _entry(out, d, name, known)
            render_html([entry], out), markdown_summary([entry], out)  # malformed saved fields fail here
            entries.append(entry)
        except Exception as e:  # noqa: BLE001 - one broken experiment must not hide the others
            why = str(e) if isinstance(e, storage.ResultsError) else f"{type(e).__name__}: {e}"
            entries.append(Entry(name, Outcome(name, "failed", error=why), title=name))
    order = {e: i for i, e in enumerate(registry.CLAIMS_ORDER)}
    entries.sort(key=lambda e: (order.get(e.id, len(order)), e.id))
    return entries


def _entry(out: str, d: str, name: str, known: dict) -> Entry:
    """One experiment's Entry; raises on anything unreadable (``collect`` marks it failed)."""
    header, results, _ = load_results(d)
    exp_id = header["id"]
    if exp_id != name:
        err = (f"{d} holds results of experiment {exp_id!r}; expected {name!r} "
               "(a directory renamed or copied by hand)")
        return Entry(name, Outcome(name, "failed", error=err), title=name)
    exp = known.get(exp_id)
    note = ""
    if exp is not None:
        outcome = finalize(exp, out, draw=_figure_stale(d))
    else:
        outcome = _saved_outcome(out, exp_id)
        note = ("this version of deeprecipe has no experiment with this id: the verdict "
                "saved when it ran is shown, not recomputed")
    outcome.figure = _safe_figure(out, exp_id, outcome.figure)
    planned = planned_seeds(d)
    if outcome.ok and planned is not None and len(outcome.seeds) < planned:
        note = (f"{len(outcome.seeds)} of the {planned} seeds the last run planned are saved (it is still "
                f"running, or was interrupted): this verdict rests on those; run it again to finish")
    return Entry(
        exp_id, outcome, title=str(header.get("title", exp_id)), claim=str(header.get("claim", "")),
        source=[str(s) for s in header.get("source", [])] if isinstance(header.get("source"), list) else [],
        preset=str(header.get("preset", "")),
        config=header.get("config", {}) if isinstance(header.get("config"), dict) else {},
        durations=list(results.durations), environment=results.environment if isinstance(
            results.environment, dict) else {}, note=note)


def _safe_figure(out: str, exp_id: str, figure):
    """The figure's path if it is ``OUT/<id>/figure.png`` as a regular file (no link), else None."""
    if not figure:
        return None
    try:
        path = regular_file_inside(out, exp_id, "figure.png")
        return path if os.path.samefile(path, figure) else None
    except (OSError, ValueError):
        return None


def _saved_outcome(out: str, exp_id: str) -> Outcome:
    exp_dir = os.path.join(out, exp_id)
    if not os.path.lexists(os.path.join(exp_dir, "verdict.json")):
        return Outcome(exp_id, "failed", error="no verdict saved and no experiment code to compute it")
    d = storage.read_result_json(out, exp_id, "verdict.json")
    v = Verdict.from_dict(d) if d.get("verdict") else None
    fig = os.path.join(exp_dir, "figure.png")
    seeds = d.get("seeds", [])
    return Outcome(exp_id, str(d.get("status", "failed")), verdict=v, error=d.get("error"),
                   figure=fig if os.path.lexists(fig) else None, seconds=float(d.get("seconds", 0.0)),
                   seeds=list(seeds) if isinstance(seeds, list) else [])


# --------------------------------------------------------------------------- text helpers
def _label(o: Outcome) -> str:
    if not o.ok:
        return "failed"
    return o.verdict.verdict if o.verdict else "?"


def _sanity_text(o: Outcome) -> str:
    """``"sanity 2/2 ok"`` / ``"SANITY FAILED 1/2"`` beside a verdict ("" when it has none)."""
    checks = getattr(o.verdict, "sanity", None) or [] if o.ok else []
    if not checks:
        return ""
    ok = sum(bool(c["ok"]) for c in checks)
    return f"sanity {ok}/{len(checks)} ok" if ok == len(checks) else f"SANITY FAILED {len(checks) - ok}/{len(checks)}"


def _numbers_text(o: Outcome, limit: int | None = None) -> str:
    if not o.ok:
        first = (o.error or "").strip().splitlines()
        return first[0] if first else ""
    if not o.verdict:
        return ""
    items = list(o.verdict.numbers.items())
    more = ""
    if limit is not None and len(items) > limit:
        items, more = items[:limit], f"; … ({len(o.verdict.numbers) - limit} more)"
    return "; ".join(f"{k} = {v}" for k, v in items) + more


def _time(seconds: float) -> str:
    if seconds < 100:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def _tally(entries) -> dict:
    t = {HOLDS: 0, DOES_NOT_HOLD: 0, INCONCLUSIVE: 0, "failed": 0}
    for e in entries:
        t[_label(e.outcome)] = t.get(_label(e.outcome), 0) + 1
    return t


# --------------------------------------------------------------------------- Markdown
def markdown_summary(entries, out: str = "") -> str:
    """The summary table in Markdown (also printed by ``deeprecipe lab run/report``)."""
    t = _tally(entries)
    lines = [f"# deeprecipe lab report{f' — {out}' if out else ''}", "",
             f"{len(entries)} experiments: {t[HOLDS]} hold, {t[DOES_NOT_HOLD]} do not hold, "
             f"{t[INCONCLUSIVE]} inconclusive, {t['failed']} failed.", "",
             "| experiment | verdict | deciding numbers | seeds | time |",
             "|---|---|---|---|---|"]
    compare = any(e.other is not None for e in entries)
    if compare:
        lines[-2:] = ["| experiment | verdict | deciding numbers | seeds | time | other run |",
                      "|---|---|---|---|---|---|"]
    section = None
    for e in entries:
        o = e.outcome
        if registry.section_of(e.id) != section:
            section = registry.section_of(e.id)
            lines.append(f"| **{section}** | | | | |" + (" |" if compare else ""))
        nums = _numbers_text(o, limit=4).replace("|", "\\|").replace("\n", " ")
        label = _label(o) + (f" ({_sanity_text(o)})" if _sanity_text(o) else "")
        lines.append(f"| {e.id} | {label} | {nums} | {len(o.seeds)} | {_time(o.seconds)} |"
                     + (f" {_other_text(e)} |" if compare else ""))
    failed = [e for e in entries if not e.outcome.ok]
    if failed:
        lines += ["", "## Failed", ""]
        for e in failed:
            err = (e.outcome.error or "").strip().splitlines()
            lines.append(f"- **{e.id}**: {err[0] if err else 'unknown error'}")
    noted = [e for e in entries if e.note]
    if noted:
        lines += ["", "## Notes", ""] + [f"- **{e.id}**: {e.note}" for e in noted]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:72rem;margin:2rem auto;
padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem}
tr.section th{text-align:left;background:#eef;padding-top:.6rem}
h2{margin-top:2.5rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}
th,td{border:1px solid #ccc;padding:.3rem .5rem;vertical-align:top;text-align:left}
th{background:#f3f3f3}
.v{font-weight:600;white-space:nowrap;padding:.1rem .4rem;border-radius:.3rem}
.v-holds{background:#d8f3dc;color:#1b5e20}.v-does-not-hold{background:#ffe0e0;color:#8b0000}
.v-inconclusive{background:#fff3cd;color:#7a5b00}.v-failed{background:#eee;color:#b00020}
pre{background:#f7f7f7;padding:.6rem;overflow-x:auto;font-size:.82rem}
pre.error{background:#fff0f0;color:#8b0000}
img{max-width:100%;border:1px solid #ddd}
.claim{font-style:italic}.note{color:#666;font-size:.9rem}
"""


def _e(s) -> str:
    return html.escape(str(s), quote=True)


def _badge(label: str) -> str:
    return f'<span class="v v-{label.replace(" ", "-")}">{_e(label)}</span>'


def _figure_tag(o: Outcome, exp_id: str) -> str:
    # o.figure was checked by collect (_safe_figure): a regular file inside the results directory.
    if not o.figure or os.path.islink(o.figure) or not os.path.isfile(o.figure):
        return '<p class="note">(no figure)</p>'
    with open(o.figure, "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="figure of {_e(exp_id)}">'


def _kv_table(d: dict) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in d.items())
    return f"<table>{rows}</table>"


def _environment_html(entries) -> str:
    envs = [e.environment for e in entries if e.environment]
    if not envs:
        return "<p>No environment recorded.</p>"
    env = envs[0]
    flat = {}
    for k, v in env.items():
        if k == "blas":
            flat["BLAS"] = "; ".join(
                f"{b.get('internal_api') or b.get('user_api')} {b.get('version') or ''} "
                f"({b.get('num_threads')} threads)" if "num_threads" in b else str(b.get("note", b))
                for b in v) or "none found"
        elif k == "thread_env":
            flat["thread variables"] = ", ".join(f"{a}={b}" for a, b in v.items()) or "(unset)"
        else:
            flat[k] = v
    differing = sorted({k for e in envs for k in e if k not in ("blas",) and e.get(k) != env.get(k)})
    note = (f'<p class="note">Some experiments ran in a different environment (differs in: '
            f'{_e(", ".join(differing))}); each section lists its own.</p>' if differing else "")
    return _kv_table(flat) + note


def render_html(entries, out: str = "") -> str:
    t = _tally(entries)
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             "<title>deeprecipe lab report</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
             "<h1>deeprecipe lab report</h1>",
             f"<p>Results directory: <code>{_e(os.path.abspath(out) if out else '')}</code>. "
             f"Generated {_e(storage.now())}. {len(entries)} experiments: {t[HOLDS]} hold, "
             f"{t[DOES_NOT_HOLD]} do not hold, {t[INCONCLUSIVE]} inconclusive, {t['failed']} failed. "
             "Every verdict below was computed from the saved raw metrics by the rule stated "
             "with it.</p>",
             "<h2>Summary</h2>",
             '<table class="summary"><thead><tr><th>experiment</th><th>claim</th><th>verdict</th>'
             "<th>deciding numbers</th><th>seeds</th><th>time</th>"]
    compare = any(e.other is not None for e in entries)
    parts[-1] += ("<th>other run</th>" if compare else "") + "</tr></thead><tbody>"
    section = None
    for e in entries:
        o = e.outcome
        if registry.section_of(e.id) != section:
            section = registry.section_of(e.id)
            parts.append(f'<tr class="section"><th colspan="{7 if compare else 6}">{_e(section)}</th></tr>')
        parts.append(
            f'<tr><td><a href="#exp-{_e(e.id)}">{_e(e.id)}</a></td><td>{_e(e.claim)}</td>'
            f"<td>{_badge(_label(o))}{' ' + _e(_sanity_text(o)) if _sanity_text(o) else ''}</td>"
            f"<td>{_e(_numbers_text(o, limit=4))}</td>"
            f"<td>{len(o.seeds)}</td><td>{_e(_time(o.seconds))}</td>"
            + (f"<td>{_e(_other_text(e))}</td>" if compare else "") + "</tr>")
    parts.append("</tbody></table>")
    for e in entries:
        o = e.outcome
        title = " — " + _e(e.title) if e.title and e.title != e.id else ""
        parts.append(f'<h2 id="exp-{_e(e.id)}">{_e(e.id)}{title}</h2>')
        if e.claim:
            parts.append(f'<p class="claim">{_e(e.claim)}</p>')
        if e.source:
            parts.append(f"<p>Source: {_e(', '.join(e.source))} (the lecture notes it comes from)</p>")
        parts.append(f"<p>Verdict: {_badge(_label(o))}</p>")
        if e.other is not None:
            parts.append(f'<p class="note">Other run ({_e(_other_text(e))}): '
                         f"{_e(_numbers_text(e.other.outcome, limit=4))}</p>")
        if e.note:
            parts.append(f'<p class="note">{_e(e.note)}</p>')
        if o.error:
            parts.append(f'<pre class="error">{_e(o.error)}</pre>')
        parts.append(_figure_tag(o, e.id))
        if o.verdict:
            parts.append("<h3>Deciding numbers</h3>" + _kv_table(o.verdict.numbers))
            parts.append(f"<h3>Rule</h3><p>{_e(o.verdict.rule)}</p>")
            if getattr(o.verdict, "sanity", None):
                rows = "".join(f"<tr><td>{_badge('holds' if c['ok'] else 'failed')}</td><td>{_e(c['text'])}</td>"
                               f"<td>{_e('; '.join(f'{k} = {v}' for k, v in c.get('numbers', {}).items()))}</td></tr>"
                               for c in o.verdict.sanity)
                parts.append("<h3>Sanity checks (identities that fail only on a bug; not deciding)</h3>"
                             f"<table>{rows}</table>")
        seeds = ", ".join(str(s) for s in o.seeds) or "none"
        per_seed = ", ".join(_time(d) for d in e.durations)
        parts.append("<h3>Settings</h3>" + _kv_table({
            "preset": e.preset, "seeds": seeds, "time per seed": per_seed or "-",
            "total time": _time(o.seconds)}))
        parts.append(f"<pre>{_e(json.dumps(e.config, indent=1, sort_keys=True))}</pre>")
        if e.environment:
            parts.append(f'<p class="note">Ran on {_e(e.environment.get("device", "?"))} with '
                         f'{_e(e.environment.get("backend", "?"))} {_e(e.environment.get("numpy", ""))}, '
                         f'Python {_e(e.environment.get("python", "?"))}.</p>')
    parts += ["<h2>Environment</h2>", _environment_html(entries), "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def write_report(out, compare=None) -> dict:
    """Write ``OUT/report.html`` and ``OUT/report.md``; returns their paths, the Markdown
    text and the entries.  ``compare``: another results directory (e.g. the full preset's
    next to the quick one's) whose verdicts are shown beside these, marked where they differ."""
    out = os.fspath(out)
    entries = collect(out)
    if compare is not None:
        attach_comparison(entries, os.fspath(compare))
    html_path = os.path.join(out, "report.html")
    md_path = os.path.join(out, "report.md")
    md = markdown_summary(entries, out)
    storage.atomic_write_text(html_path, render_html(entries, out))
    storage.atomic_write_text(md_path, md)
    return {"html": html_path, "markdown": md_path, "summary": md, "entries": entries}
