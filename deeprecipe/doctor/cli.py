"""``deeprecipe doctor RUN``: the doctor's note about a ``deeprecipe train --out`` run.

    deeprecipe doctor runs/sick              # the note, most severe finding first
    deeprecipe doctor runs/sick --json       # {"healthy": ..., "findings": [...]}
    deeprecipe doctor runs/sick --html note.html
    deeprecipe doctor runs/sick --probe      # train a shallower control: model bias or optimization?
    deeprecipe doctor runs/sick --treat      # prescription for the worst finding, re-run next to RUN

Exit status: 0 whenever the diagnosis ran (findings or not), 2 for a path that is not a
finished, readable run folder (with the reason).
"""
from __future__ import annotations

import json
import math
import os
import sys


def register(subparsers):
    p = subparsers.add_parser("doctor", help="diagnose a training run the way the Recipe of Deep Learning does",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("run", metavar="RUN", help="the --out folder of a 'deeprecipe train' run")
    p.add_argument("--json", action="store_true", help="print the diagnosis as JSON (the contract of to_dict())")
    p.add_argument("--html", metavar="FILE", nargs="?", const="", default=None,
                   help="write a self-contained HTML page with a figure per finding (default RUN/doctor.html)")
    p.add_argument("--probe", action="store_true",
                   help="train a shallower control (RUN-probe) to tell model bias from optimization problems, "
                        "and check a saddle point's Hessian for a negative eigenvalue")
    p.add_argument("--treat", action="store_true",
                   help="apply the prescription for the most severe finding and re-run (RUN-treated-<id>)")
    p.set_defaults(func=main)
    return p


def _fmt(v):
    return f"{v:.4g}" if isinstance(v, float) and math.isfinite(v) else str(v)


def main(args) -> int:
    from .diagnosis import diagnose
    from .signals import RunDirError, from_run_dir
    try:
        sig = from_run_dir(args.run)
    except RunDirError as e:
        print(f"deeprecipe doctor: {e}", file=sys.stderr)
        return 2
    probe = None
    if args.probe:
        from .probe import run_control, saddle_curvature
        probe = run_control(args.run)
        pre = diagnose(sig)
        if any(f.id == "saddle-point" for f in pre.findings):
            try:
                sig.inputs["hessian_min_eigenvalue"] = saddle_curvature(args.run)
            except (OSError, ValueError, KeyError) as e:
                print(f"note: no Hessian check ({e})", file=sys.stderr)
    d = diagnose(sig, probe=probe)
    if args.json:
        print(json.dumps(d.to_dict(), indent=1))
    else:
        print(d)
    if args.html is not None:
        from .note import html_page
        path = args.html or os.path.join(args.run, "doctor.html")
        with open(path, "w", encoding="utf-8") as f:
            f.write(html_page(d))
        print(f"wrote {path}", file=sys.stderr)
    if args.treat:
        from .treat import treat
        r = treat(args.run)
        out = sys.stderr if args.json else sys.stdout
        if r is None:
            print("nothing to treat: the run is healthy", file=out)
        else:
            b, a = r["before"], r["after"]
            print(f"\nTreatment for {r['finding']}: {r['prescription']} -> {r['treated_dir']}", file=out)
            print(f"  {b['signal']}: {_fmt(b['value'])} -> {_fmt(a['value'])};  val accuracy "
                  f"{_fmt(b['val_accuracy'])} -> {_fmt(a['val_accuracy'])};  "
                  f"{'cured: the finding is gone' if r['cured'] else 'NOT cured: the finding remains'}", file=out)
            print(f"  findings before: {', '.join(b['findings']) or 'none'}; after: "
                  f"{', '.join(a['findings']) or 'none'}", file=out)
    return 0
