"""``deeprecipe train``: train a model from the command line or a TOML file.

    deeprecipe train --data fashion-mnist --model mlp:512,256 --activation relu --norm batch \\
        --dropout 0.2 --init he --optimizer adam --lr 1e-3 --schedule onecycle --epochs 10 \\
        --batch-size 128 --seed 0 --out runs/fmnist-mlp
    deeprecipe train --config job.toml --epochs 3      # the command line overrides the file
    deeprecipe train --optimizer adabound --opt final_lr=0.05 --opt gamma=1e-2 --init normal:0.01
    deeprecipe train --config job.toml --resume        # continue an interrupted run

Writes ``config.json``, ``metrics.csv``, ``metrics.json`` and ``checkpoints/`` to
``--out`` (see :mod:`deeprecipe.train.job`).  ``--threads N`` limits BLAS threads
through threadpoolctl; without it, set ``OPENBLAS_NUM_THREADS=N`` before starting
(NumPy reads it only when it is first imported).
"""
from __future__ import annotations

import argparse
import os
import sys

from ..validation.options import suggest
from .config import (
    CHOICES, MODEL_HELP, TrainConfig, component_names, config_from_mapping, read_toml, registries, validate,
)

_HELP = {
    "data": "dataset (a data.CATALOG spec), or npz:PATH with arrays x_train, y_train[, x_test, y_test]",
    "model": MODEL_HELP,
    "activation": "hidden-layer activation spec, e.g. relu, leaky_relu:0.1, maxout:pieces=3",
    "norm": "normalization after each hidden linear/conv layer",
    "dropout": "dropout probability after each hidden activation",
    "init": "weight initialization spec (he = Kaiming normal, normal:STD, ...; default = torch's default)",
    "optimizer": "optimizer spec, e.g. adam, sgd:momentum=0.9, adabound:final_lr=0.1 (see also --opt)",
    "lr": "learning rate (the peak rate for onecycle)",
    "momentum": "momentum for optimizers that take one (sgd, rmsprop); 0 = none",
    "weight_decay": "weight decay (L2 for sgd/adam, decoupled for adamw)",
    "schedule": "learning-rate schedule spec: step (x0.1 every epochs/3), cosine and onecycle (per step), "
                "exponential:gamma=G, plateau (halve when val_loss stalls for 2 epochs)",
    "epochs": "number of epochs",
    "batch_size": "mini-batch size",
    "seed": "seed of the initialization, data split and order, and dropout masks",
    "val_fraction": "fraction of the training set held out for validation (0: none)",
    "train_samples": "train on a seeded random subset of this many samples (0: all)",
    "standardize": "standardize each input feature with the training set's mean and std",
    "patience": "early stopping on val_loss after this many epochs without improvement (0: off); "
                "the best weights are restored",
    "checkpoint_every": "also checkpoint every this many optimizer steps (0: only at epoch ends)",
    "device": "cpu, or cuda (needs CuPy)",
    "cuda_graph": "on the GPU, capture the training step as a CUDA graph and replay it (adam, adamw, sgd, sgdw; "
                  "falls back to eager steps with a warning saying why where it cannot)",
    "out": "output folder (default runs/<data>-<model>-seed<seed>)",
    "threads": "BLAS threads (needs threadpoolctl; 0: leave as is)",
    "progress": "progress display: auto (tqdm on a terminal), bar, lines, none",
    "monitor_every": "record the doctor's monitors (per-layer gradient norms, update/weight ratios, "
                     "activations on a fixed probe batch, weight norms) every this many steps (0: off)",
    "doctor": "live diagnosis at each epoch end: off, report (print new findings), stop (also end the run "
              "on an error finding, keeping its checkpoints)",
}


class _SuggestingParser(argparse.ArgumentParser):
    """An ArgumentParser that refuses unknown options itself, with the closest valid one.

    (The sub-command parser is created by ``deeprecipe/cli.py``; its class is switched to
    this one so that ``deeprecipe train --learning-rate 1`` says ``did you mean --lr?``
    instead of argparse's bare "unrecognized arguments".)
    """

    def parse_known_args(self, args=None, namespace=None):
        ns, extra = super().parse_known_args(args, namespace)
        if extra:
            opts = [o[2:].replace("-", "_") for a in self._actions for o in a.option_strings if o.startswith("--")]
            msgs = []
            for e in extra:
                if not e.startswith("-"):
                    msgs.append(repr(e))  # a stray value (often the value of an unknown option)
                    continue
                near = suggest(e, opts)
                msgs.append(f"{e.split('=', 1)[0]}" + (f" (did you mean --{near.replace('_', '-')}?)" if near else ""))
            self.error(f"unknown option(s): {', '.join(msgs)}; see deeprecipe train --help")
        return ns, extra


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train", help="train a model (MLP or CNN) and write metrics and checkpoints",
        description=__doc__.split("\n\n")[0], allow_abbrev=False,
    )
    p.__class__ = _SuggestingParser
    defaults = TrainConfig()
    p.add_argument("--config", metavar="TOML", help="read options from a TOML file (the command line wins)")
    for f in TrainConfig.field_names():
        flag = "--" + f.replace("_", "-")
        default = getattr(defaults, f)
        if isinstance(default, bool):
            continue
        # Choices are checked by config.validate (same message, with a suggestion, for
        # the command line and for TOML files), so argparse only converts types here.
        if f in CHOICES:
            choices = f" [{'|'.join(CHOICES[f])}]"
        elif f in registries():
            choices = f" [{'|'.join(component_names(f))}]"
        else:
            choices = ""
        p.add_argument(flag, default=argparse.SUPPRESS, type=type(default), metavar=f.upper(),
                       help=f"{_HELP[f]}{choices} (default: {default!r})")
    p.add_argument("--opt", action="append", metavar="KEY=VALUE", default=argparse.SUPPRESS,
                   help="a hyperparameter of the optimizer (repeatable), e.g. --opt final_lr=0.1; any argument "
                        "of the chosen optimizer's class, checked against its signature")
    p.add_argument("--resume", action="store_true", default=argparse.SUPPRESS,
                   help="continue the run in --out from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", default=argparse.SUPPRESS,
                   help="replace a run already in --out")
    p.add_argument("--standardize", action="store_true", default=argparse.SUPPRESS, help=_HELP["standardize"])
    p.add_argument("--cuda-graph", action="store_true", default=argparse.SUPPRESS, help=_HELP["cuda_graph"])
    p.add_argument("--no-monitor", dest="monitor_every", action="store_const", const=0, default=argparse.SUPPRESS,
                   help="record no monitors (same as --monitor-every 0)")
    p.set_defaults(func=main)
    return p


def resolve(args) -> TrainConfig:
    """Defaults, then the TOML file, then the command line; validated."""
    cfg = TrainConfig()
    given = {k: v for k, v in vars(args).items() if k not in ("func", "command", "config", "opt")}
    if getattr(args, "config", None):
        cfg = config_from_mapping(read_toml(args.config), f"config file {args.config}", cfg)
    cfg = config_from_mapping(given, "the command line", cfg)
    cfg.optimizer = add_spec_arguments(cfg.optimizer, getattr(args, "opt", None) or [], "--opt")
    return validate(cfg)


def add_spec_arguments(spec: str, pairs: list[str], flag: str) -> str:
    """``spec`` with ``KEY=VALUE`` pairs added as keyword arguments (later ones win)."""
    from ..registry import format_spec, parse_spec, parse_value
    if not pairs:
        return spec
    name, args, kwargs = parse_spec(spec)
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip().isidentifier():
            raise ValueError(f"{flag} takes KEY=VALUE (e.g. {flag} final_lr=0.1), got {pair!r}")
        kwargs[key.strip()] = parse_value(value)
    return format_spec(name, args, kwargs)


def main(args) -> int:
    from .job import RunDirError, run
    try:
        cfg = resolve(args)
        summary = run(cfg)
    except (ValueError, TypeError, OSError, RuntimeError) as e:
        if os.environ.get("DEEPRECIPE_DEBUG"):
            raise
        kind = "error" if not isinstance(e, RunDirError) else "refusing"
        print(f"deeprecipe train: {kind}: {e}", file=sys.stderr)
        return 2
    h = summary["history"]["history"]
    parts = [f"{k} {h[k][-1]:.4f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy") if h.get(k)
             and h[k][-1] is not None]
    test = summary["test"]
    if test:
        parts.append(f"test_loss {test['loss']:.4f}  test_accuracy {test['accuracy']:.4f}")
    status = "diverged (exit code 1) after" if summary["diverged"] else "done:"
    print(f"{status} {len(summary['history']['epoch'])} epochs  " + "  ".join(parts))
    if summary["stop_reason"]:
        print(summary["stop_reason"])
    print(f"wrote {cfg.out}/config.json, metrics.csv, metrics.json, inputs.json, checkpoints/")
    return 1 if summary["diverged"] else 0
