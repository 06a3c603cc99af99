"""``deeprecipe lab list | run | report | plot``.

    deeprecipe lab list
    deeprecipe lab run ID [ID ...] | --all  [--quick | --full] [--seeds N] [--jobs N]
                                           [--cluster tcp://HOST:PORT]
                                           [--out DIR] [--rerun] [--no-progress]
    deeprecipe lab report DIR
    deeprecipe lab plot DIR [ID ...]      redraw figures and verdicts from saved metrics
"""
from __future__ import annotations

import argparse
import os
import sys
import textwrap

DEFAULT_OUT = "lab-results"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "lab", help="re-run the lectures' claims: list, run, report, plot",
        description="Re-run the claims of the lecture notes as experiments with figures and verdicts.")
    sub = p.add_subparsers(dest="lab_command", metavar="{list,run,report,plot}")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    pl = sub.add_parser("list", help="list the experiments")
    pl.add_argument("-v", "--verbose", action="store_true", help="show each claim in full")
    pl.set_defaults(func=cmd_list)

    pr = sub.add_parser("run", help="run experiments and write the report",
                        description="Run experiments (each seed once; saved seeds are skipped "
                                    "unless --rerun), draw figures, compute verdicts, write the report.")
    pr.add_argument("ids", nargs="*", metavar="ID", help="experiment ids (see `deeprecipe lab list`)")
    pr.add_argument("--all", action="store_true", help="run every experiment")
    g = pr.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="preset", action="store_const", const="quick",
                   help="small settings, under a minute per experiment on 2 CPU cores (default)")
    g.add_argument("--full", dest="preset", action="store_const", const="full",
                   help="the source's own settings")
    g.add_argument("--preset", dest="preset", choices=["test", "quick", "full"],
                   help="choose a preset by name ('test': tiny synthetic data, seconds)")
    pr.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the preset's)")
    pr.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (default 1)")
    pr.add_argument("--cluster", metavar="tcp://HOST:PORT", default=None,
                    help="run the units (experiment x seed) on the workers of this Dask scheduler instead "
                         "of local processes (needs the 'cluster' extra; start workers with "
                         "`dask worker tcp://HOST:PORT --nthreads 1`); results are written here, by this "
                         "process, and are identical to a local run")
    pr.add_argument("--out", default=DEFAULT_OUT, help=f"results directory (default {DEFAULT_OUT})")
    pr.add_argument("--rerun", action="store_true", help="discard saved results and run again")
    pr.add_argument("--no-progress", action="store_true", help="no progress bar")
    pr.add_argument("--no-report", action="store_true", help="do not write report.html")
    pr.set_defaults(func=cmd_run, preset="quick")

    prep = sub.add_parser("report", help="write report.html and report.md for a results directory")
    prep.add_argument("dir", help="results directory (the --out of `lab run`)")
    prep.add_argument("--compare", metavar="DIR", default=None,
                      help="another results directory (e.g. a --full run next to a --quick one): its verdicts "
                           "(recomputed from its saved metrics) are shown beside these, marked where they differ")
    prep.set_defaults(func=cmd_report)

    pp = sub.add_parser("plot", help="redraw figures and verdicts from saved metrics (no training)")
    pp.add_argument("dir", help="results directory, or one experiment's directory inside it")
    pp.add_argument("ids", nargs="*", metavar="ID", help="only these experiments")
    pp.set_defaults(func=cmd_plot)


def _err(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)


def cmd_list(args) -> int:
    from . import registry
    exps = registry.all_experiments()
    width = max((len(e.id) for e in exps), default=10)
    swidth = max((len(",".join(e.source)) + 2 for e in exps), default=5)
    for e in exps:
        src = f"[{','.join(e.source)}]"
        if args.verbose:
            print(f"{e.id}  {src}  presets: {', '.join(sorted(e.presets))}")
            print(textwrap.indent(textwrap.fill(e.claim, 88), "    "))
        else:
            claim = e.claim if len(e.claim) <= 80 else e.claim[:77] + "..."
            print(f"{e.id:<{width}}  {src:<{swidth}}  {claim}")
    for mod, error in registry.broken().items():
        print(f"(broken) {mod}: {error}", file=sys.stderr)
    print(f"{len(exps)} experiments. Run one with `deeprecipe lab run ID`, all with "
          "`deeprecipe lab run --all --quick`.")
    return 0


def cmd_run(args) -> int:
    from . import registry
    from .runner import ClusterError, run_experiments
    from .storage import ResultsError
    if args.all and args.ids:
        _err("give experiment ids or --all, not both")
        return 2
    if not args.all and not args.ids:
        _err("name experiments to run (or --all); valid ids: " + ", ".join(registry.ids()))
        return 2
    if args.jobs < 1 or (args.seeds is not None and args.seeds < 1):
        _err("--jobs and --seeds must be positive integers")
        return 2
    try:
        ids = registry.ids() if args.all else [registry.get(i).id for i in args.ids]
    except registry.UnknownExperimentError as e:
        _err(str(e))
        return 2
    for mod, error in registry.broken().items():
        print(f"warning: experiment module {mod} cannot be imported and is skipped: {error}",
              file=sys.stderr)
    try:
        from .storage import check_results_dir
        check_results_dir(args.out)
        outcomes = run_experiments(ids, preset=args.preset, out=args.out, seeds=args.seeds,
                                   jobs=args.jobs, rerun=args.rerun, progress=not args.no_progress,
                                   cluster=args.cluster)
    except (ResultsError, ValueError, ClusterError) as e:
        _err(str(e))
        return 2
    status = 0 if all(o.ok for o in outcomes) and not (args.all and registry.broken()) else 1
    if not args.no_report:
        status = max(status, _report(args.out, only=ids))
    else:
        from .report import Entry, markdown_summary
        print(markdown_summary([Entry(o.id, o) for o in outcomes], args.out))
    return status


def _report(out: str, only=None, compare=None) -> int:
    from .report import markdown_summary, write_report
    from .storage import ResultsError
    try:
        rep = write_report(out, compare=compare)
    except ResultsError as e:
        _err(str(e))
        return 2
    entries = rep["entries"]
    if only is not None:
        entries = [e for e in entries if e.id in set(only)]
    print(markdown_summary(entries, out))
    print(f"Report: {os.path.abspath(rep['html'])}")
    print(f"Summary: {os.path.abspath(rep['markdown'])}")
    return 0 if all(e.outcome.ok for e in rep["entries"]) else 1


def cmd_report(args) -> int:
    return _report(args.dir, compare=args.compare)


def cmd_plot(args) -> int:
    from . import registry, storage
    from .runner import describe, finalize
    d = os.path.abspath(args.dir)
    try:
        if storage.is_experiment_dir(d):
            out, dirs = os.path.dirname(d), [d]
        else:
            out, dirs = d, storage.list_experiment_dirs(d)
            if not dirs:
                raise storage.ResultsError(f"{d} holds no lab results")
        status = 0
        for exp_dir in dirs:
            header = storage.read_experiment_header(exp_dir)
            if args.ids and header["id"] not in args.ids:
                continue
            if header["id"] != os.path.basename(exp_dir):
                raise storage.ResultsError(f"{exp_dir} holds results of experiment {header['id']!r}")
            o = finalize(registry.get(header["id"]), out)
            print(describe(o))
            status = max(status, 0 if o.ok else 1)
        return status
    except (storage.ResultsError, registry.UnknownExperimentError) as e:
        _err(str(e))
        return 2


def main(argv=None) -> int:
    """``python -m deeprecipe.lab.cli ...`` (same as ``deeprecipe lab ...``)."""
    parser = argparse.ArgumentParser(prog="deeprecipe")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(["lab", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
