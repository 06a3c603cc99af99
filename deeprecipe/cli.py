"""The ``deeprecipe`` command: ``deeprecipe data|train|lab|sweep ...``.

Each sub-command lives with the code it drives and registers itself through a
``register(subparsers)`` function; they are imported only when the CLI runs.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# (command, module that defines register(subparsers))
_COMMANDS = [
    ("data", "deeprecipe.data.cli"),
    ("train", "deeprecipe.train.cli"),
    ("lab", "deeprecipe.lab.cli"),
    ("doctor", "deeprecipe.doctor.cli"),
    ("sweep", "deeprecipe.sweep.cli"),
]


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="deeprecipe",
        description="Train networks on NumPy/CuPy and re-run the lectures' claims in the lab.")
    parser.add_argument("--version", action="version", version=f"deeprecipe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for _name, module in _COMMANDS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            continue
        mod.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
