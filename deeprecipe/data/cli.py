"""``deeprecipe data fetch NAME`` and ``deeprecipe data info``."""
from __future__ import annotations

import os
import sys

FETCHABLE = ("fashion-mnist", "mnist", "digits")


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="fetch datasets and show where they are",
                              description="Fetch datasets and show where they are found.")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")

    f = sub.add_parser("fetch", help="make a dataset available locally (download if needed)")
    f.add_argument("name", choices=FETCHABLE)
    f.add_argument("--root", default=None,
                   help="folder searched first and downloaded into (default: the user cache)")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_fetch)

    i = sub.add_parser("info", help="where each dataset is found or would be downloaded to")
    i.add_argument("--root", default=None, help="an extra folder searched first")
    i.set_defaults(func=_info)

    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _fmt_size(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 1e5 else f"{nbytes / 1e3:.1f} kB"


def _fetch(args) -> int:
    from .datasets import DatasetNotFoundError, digits, find_files, load
    name = args.name
    try:
        if name == "digits":
            (x_tr, y_tr), (x_te, y_te) = digits()
            where = "bundled with scikit-learn"
        else:
            (x_tr, y_tr), (x_te, y_te) = load(name, root=args.root, download=True,
                                              progress=not args.quiet)
            where = str(next(iter(find_files(name, args.root).values())).parent)
    except (DatasetNotFoundError, ImportError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{name}: {where}")
    print(f"  train: x {x_tr.dtype} {x_tr.shape}, y {y_tr.dtype} {y_tr.shape}")
    print(f"  test:  x {x_te.dtype} {x_te.shape}, y {y_te.dtype} {y_te.shape}")
    return 0


def _info(args) -> int:
    from .datasets import DATASETS, ENV_VAR, cache_dir, candidate_dirs, download_dir, find_files
    from .idx import read_idx_header
    print(f"{ENV_VAR}={os.environ.get(ENV_VAR, '(not set)')}")
    print(f"cache: {cache_dir()}")
    status = 0
    for name, spec in DATASETS.items():
        files = find_files(name, args.root)
        if files is None:
            print(f"{name}: not found; would download from {spec.mirrors[0]} "
                  f"to {download_dir(name, args.root)}")
            print("  searched: " + ", ".join(str(d) for d in candidate_dirs(name, args.root)))
            continue
        print(f"{name}: {next(iter(files.values())).parent}")
        for part, path in files.items():
            try:
                dtype, shape = read_idx_header(path)
                desc = f"{dtype} {shape}"
            except ValueError as e:
                desc, status = f"UNREADABLE: {e}", 1
            print(f"  {part:<13} {path.name:<28} {_fmt_size(path.stat().st_size):>9}  {desc}")
    # Only look the package up: importing scikit-learn takes seconds.
    from importlib import metadata, util
    if util.find_spec("sklearn") is None:
        print("digits: needs scikit-learn (pip install scikit-learn, or the 'data' extra)")
    else:
        try:
            version = " " + metadata.version("scikit-learn")
        except metadata.PackageNotFoundError:
            version = ""
        print(f"digits: bundled with scikit-learn{version} (1797 images 8x8, 10 classes)")
    return status
