"""``make demo`` / ``python -m deeprecipe.demo``: re-run every claim of the lectures, quickly.

1. Makes sure Fashion-MNIST is on this machine: found locally → use it; otherwise, as
   root on Debian/Ubuntu, ``apt-get install -y dataset-fashion-mnist`` (after
   ``apt-get update``); otherwise the official download (with checksums); if all that
   fails, it says how to get the data and goes on (experiments that need it will be
   reported as failed with that message).
2. Runs ``deeprecipe lab run --all --quick --jobs 2 --out lab-results``.
3. Writes ``lab-results/report.html`` (self-contained) and prints where it is.
4. Shows the doctor on a sick run: trains the lectures' deep sigmoid network (seed 000) on
   the digits into ``runs/sigmoid-deep``, prints the doctor's note, and
   re-runs it with the prescribed treatment next to it (``--treat``).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

DATASET = "fashion-mnist"
APT_PACKAGE = "dataset-fashion-mnist"


def _say(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def _is_debian_like() -> bool:
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            info = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    except OSError:
        return False
    ids = (info.get("ID", "") + " " + info.get("ID_LIKE", "")).replace('"', "").split()
    return any(i in ("debian", "ubuntu") for i in ids)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def ensure_fashion_mnist(allow_install: bool = True, allow_download: bool = True) -> bool:
    """True when Fashion-MNIST can be loaded (possibly after installing or downloading it)."""
    from . import data
    if data.find_files(DATASET) is not None:
        _say("Fashion-MNIST found.")
        return True
    _say("Fashion-MNIST is not on this machine.")
    if allow_install and _is_root() and _is_debian_like() and shutil.which("apt-get"):
        _say(f"Installing the Debian/Ubuntu package {APT_PACKAGE} "
             "(apt-get update && apt-get install -y dataset-fashion-mnist) ...")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        ok = (subprocess.run(["apt-get", "update"], env=env).returncode == 0 and
              subprocess.run(["apt-get", "install", "-y", APT_PACKAGE], env=env).returncode == 0)
        if ok and data.find_files(DATASET) is not None:
            _say(f"Installed {APT_PACKAGE}.")
            return True
        _say(f"Installing {APT_PACKAGE} did not work.")
    if allow_download:
        _say("Trying the official download (verified by MD5) ...")
        try:
            data.fashion_mnist(download=True, progress=True)
            return True
        except (data.DatasetNotFoundError, OSError) as e:
            _say(f"Download failed: {str(e).splitlines()[0]}")
    _say("Without Fashion-MNIST the experiments that need it will be reported as failed.\n"
         + data.datasets.how_to_get(DATASET))
    return False


#: the lectures' sick network (seed 000): six sigmoid layers, SGD, torch's default init
SICK_RUN = ["--data", "digits", "--model", "mlp:64,64,64,64,64,64", "--activation", "sigmoid",
            "--init", "default", "--optimizer", "sgd", "--lr", "0.1", "--epochs", "6", "--seed", "0",
            "--progress", "none"]


def doctor_demo(run: str = os.path.join("runs", "sigmoid-deep")) -> int:
    """Train :data:`SICK_RUN` into ``run`` (again, if it is there), then
    ``deeprecipe doctor RUN --treat``; returns the doctor's exit status."""
    from .cli import main as cli
    _say(f"The doctor on a sick run: the lectures' deep sigmoid network, trained into {run} ...")
    again = ["--overwrite"] if os.path.isdir(run) else []     # a second `make demo` trains it anew
    status = cli(["train", *SICK_RUN, "--out", run, *again])
    if status not in (0, 1):          # 1: diverged, which the doctor reads all the same
        _say("training the sick run failed; skipping the doctor")
        return status
    _say(f"deeprecipe doctor {run} --treat")
    return cli(["doctor", run, "--treat"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deeprecipe.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="lab-results", help="results directory (default lab-results)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--full", action="store_true", help="the sources' full settings (slow)")
    parser.add_argument("--no-install", action="store_true", help="never install or download data")
    parser.add_argument("--no-doctor", action="store_true", help="skip the doctor's demonstration")
    parser.add_argument("--sick-run", default=os.path.join("runs", "sigmoid-deep"),
                        help="where the doctor's demonstration trains its sick run (default runs/sigmoid-deep)")
    args = parser.parse_args(argv)

    ensure_fashion_mnist(allow_install=not args.no_install, allow_download=not args.no_install)
    from .lab import registry
    from .lab.cli import _report
    from .lab.runner import run_experiments
    ids = registry.ids()
    preset = "full" if args.full else "quick"
    _say(f"Running {len(ids)} experiments ({preset} preset, {args.jobs} jobs) into {args.out} ...")
    for mod, error in registry.broken().items():
        _say(f"warning: {mod} cannot be imported and is skipped: {error}")
    outcomes = run_experiments(ids, preset=preset, out=args.out, jobs=args.jobs)
    status = _report(args.out)
    failed = [o.id for o in outcomes if not o.ok]
    if failed:
        _say(f"{len(failed)} experiment(s) failed: {', '.join(failed)} (errors in the report)")
    if not args.no_doctor:
        doctor_demo(args.sick_run)
    _say(f"Open {os.path.abspath(os.path.join(args.out, 'report.html'))} in a browser.")
    return status


if __name__ == "__main__":
    sys.exit(main())
