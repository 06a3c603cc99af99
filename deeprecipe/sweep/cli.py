"""``deeprecipe sweep``: search training options with Optuna.

    deeprecipe sweep --data fashion-mnist --model mlp:512,256 --epochs 5 --train-samples 10000 \\
        --param lr=log:1e-5:1e-1 --param weight_decay=log:1e-8:1e-3 --param optimizer=choice:adam,sgd \\
        --trials 30 --workers 2 --pruner median --out sweeps/mlp
    deeprecipe sweep --space space.toml --trials 30 --out sweeps/mlp       # the same, from a file
    deeprecipe sweep ... --storage postgresql://USER@HOST:5432/DB            # many machines, one study
    deeprecipe sweep ... --cluster tcp://HOST:8786                           # workers on a Dask cluster

Every ``deeprecipe train`` option not searched is fixed for all trials (from the command
line, then ``--config``, then the search-space file's ``[train]`` table, then the
defaults).  Run the same command again to continue an interrupted sweep.
"""
from __future__ import annotations

import argparse
import os
import sys

from ..train.config import CHOICES, TrainConfig

_RUN_ONLY = {"out", "resume", "overwrite", "progress", "threads"}


def register(subparsers) -> argparse.ArgumentParser:
    from ..train.cli import _HELP, _SuggestingParser
    from .pruning import PRUNERS
    from .space import SYNTAX
    from .trial import OBJECTIVES
    p = subparsers.add_parser(
        "sweep", help="search training options with Optuna (SQLite or PostgreSQL, local processes or Dask)",
        description=__doc__.split("\n\n")[0], allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.__class__ = _SuggestingParser
    g = p.add_argument_group("search")
    g.add_argument("--param", action="append", default=[], metavar="NAME=KIND:...",
                   help=f"a searched option ({SYNTAX}); repeat for several. KIND log/uniform: real numbers "
                        "(log on an integer option: integers on a log scale), int: integers, choice: values")
    g.add_argument("--space", metavar="TOML", help="search space file: a [params] table (same syntax, or "
                   "tables {type, low, high[, step]} and lists for choices) and an optional [train] table "
                   "of fixed options")
    g.add_argument("--trials", type=int, default=20, help="trials to finish in total, pruned ones included; "
                   "a continued sweep counts those already finished (default 20)")
    g.add_argument("--objective", choices=list(OBJECTIVES), default="val_accuracy",
                   help="what a trial is scored by, on the validation split (never the test set) "
                        "(default val_accuracy)")
    g.add_argument("--pruner", choices=list(PRUNERS), default="median",
                   help="stop unpromising trials: median (Optuna's median rule, after 5 trials), doctor (the "
                        "doctor finds divergence, vanishing gradients or dead units), both, or none "
                        "(default median)")
    g.add_argument("--sampler", choices=["tpe", "random"], default="tpe", help="Optuna sampler (default tpe)")
    g.add_argument("--sampler-seed", type=int, default=0, help="seed of the sampler (default 0)")
    r = p.add_argument_group("where it runs")
    r.add_argument("--workers", type=int, default=1,
                   help="trials run at the same time: local processes, or Dask tasks with --cluster (default 1; "
                        "with --cluster: one per Dask worker)")
    r.add_argument("--storage", metavar="URL", default=None,
                   help="Optuna database; default sqlite:///OUT/study.db. For many machines sharing one study: "
                        "postgresql://USER:PASSWORD@HOST:PORT/DB (needs the sweep extra's psycopg)")
    r.add_argument("--study-name", default="sweep", help="study name in the database (default 'sweep')")
    r.add_argument("--cluster", metavar="tcp://HOST:PORT", default=None,
                   help="run the workers on this Dask scheduler (the storage must be reachable from the workers: "
                        "a shared folder for SQLite, or PostgreSQL)")
    r.add_argument("--out", default=None, help="sweep folder: database, trial runs, summary.json, figure.png "
                   "(default sweeps/<study-name>)")
    t = p.add_argument_group("fixed training options (as in `deeprecipe train`)")
    t.add_argument("--config", metavar="TOML", help="training options from a TOML file (the command line wins)")
    defaults = TrainConfig()
    for f in TrainConfig.field_names():
        default = getattr(defaults, f)
        if isinstance(default, bool) or f in _RUN_ONLY:
            continue
        choices = f" [{'|'.join(CHOICES[f])}]" if f in CHOICES else ""
        t.add_argument("--" + f.replace("_", "-"), dest=f"train_{f}", default=argparse.SUPPRESS,
                       type=type(default), metavar=f.upper(), help=f"{_HELP[f]}{choices} (default: {default!r})")
    p.set_defaults(func=main)
    return p


def build_spec(args):
    """Resolve the fixed options and the search space; every check before anything runs."""
    import dataclasses

    from ..train.config import config_from_mapping, read_toml, validate
    from .space import SpaceError, check_space, parse_param, read_space_file
    from .study import SweepSpec
    if args.trials < 1:
        raise SpaceError(f"--trials must be >= 1, got {args.trials}")
    if args.workers < 1:
        raise SpaceError(f"--workers must be >= 1, got {args.workers}")
    params, fixed_file = [], {}
    if args.space:
        params, fixed_file = read_space_file(args.space)
    params += [parse_param(x) for x in args.param]
    given = {k[len("train_"):]: v for k, v in vars(args).items() if k.startswith("train_")}
    cfg = TrainConfig()
    if fixed_file:
        cfg = config_from_mapping(fixed_file, f"{args.space} [train]", cfg)
    if args.config:
        cfg = config_from_mapping(read_toml(args.config), f"config file {args.config}", cfg)
    cfg = config_from_mapping(given, "the command line", cfg)
    both = sorted(set(given) & {p.name for p in params})
    if both:
        raise SpaceError(f"{', '.join(both)} is both fixed (--{both[0].replace('_', '-')}) and searched "
                         "(--param); give one")
    cfg = validate(dataclasses.replace(cfg, progress="none"))
    if cfg.val_fraction <= 0:
        raise SpaceError("a sweep scores trials on validation data: val_fraction must be > 0")
    check_space(params, cfg)
    out = args.out or os.path.join("sweeps", args.study_name)
    return SweepSpec(base=dataclasses.asdict(cfg), params=[p.to_dict() for p in params], objective=args.objective,
                     trials=args.trials, pruner=args.pruner, storage=args.storage or "", study_name=args.study_name,
                     out=out, sampler=args.sampler, sampler_seed=args.sampler_seed)


def main(args) -> int:
    from .pruning import DoctorUnavailable
    from .space import SpaceError
    from .study import SweepError, run_sweep
    try:
        import optuna  # noqa: F401
    except ImportError:
        print("deeprecipe sweep: error: needs Optuna: pip install 'deeprecipe[sweep]'", file=sys.stderr)
        return 2
    try:
        spec = build_spec(args)
        run_sweep(spec, workers=args.workers, cluster=args.cluster)
    except (SpaceError, SweepError, DoctorUnavailable, ValueError, TypeError, OSError) as e:
        if os.environ.get("DEEPRECIPE_DEBUG"):
            raise
        print(f"deeprecipe sweep: error: {e}", file=sys.stderr)
        return 2
    return 0
