"""What doctor-driven pruning saves: the same sweep with and without it, side by side.

    python benchmarks/sweep_pruning.py                   # 30 trials each, 2 workers (about an hour on 2 cores)
    python benchmarks/sweep_pruning.py --trials 10 --train-samples 3000 --epochs 3   # a smaller check

Both sweeps search the README's MLP (784-512-256-10, ReLU, He init) on a seeded
subset of Fashion-MNIST — ``lr`` log-uniform in [1e-4, 3] (wide on purpose: the top of
the range diverges or kills units), ``optimizer`` in {adam, sgd}, ``weight_decay``
log-uniform in [1e-8, 1e-3], ``init`` in {he, normal:0.01} (``normal:STD`` needs the
doctor's init specs) — scored on validation accuracy.  By default arm A prunes with
Optuna's median rule only; arm B adds the doctor (``--pruner median+doctor``), which
stops a trial it diagnoses as diverged, vanishing or dead.  ``--arms none,doctor``
compares the doctor alone with no pruning.  Same sampler seed, same trial budget, same
data, 2 worker processes each, at one BLAS thread per trial.

Printed and saved to ``OUT/comparison.json``: per arm, the best validation accuracy,
the test accuracy of that best trial (evaluated once, after the search), the trials by
state, and the compute used (epochs trained and seconds of training, summed over
trials).  With two workers the order in which trials finish varies from run to run, so
the two arms do not see identical proposals after the first few trials; run it twice
(``--repeat 2``) to see the spread.  Timings are from whatever machine runs it — say so
when quoting them, and whether it was shared.

Needs the doctor (``deeprecipe.doctor.diagnose``); without it the script says so and stops.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--train-samples", type=int, default=10000, help="Fashion-MNIST training subset")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=1, help="run both arms this many times (new studies)")
    ap.add_argument("--arms", default="median,median+doctor",
                    help="comma-separated --pruner values to compare (e.g. none,doctor: the doctor alone)")
    ap.add_argument("--out", default="sweeps/pruning-benchmark")
    args = ap.parse_args(argv)

    from deeprecipe.sweep import DoctorUnavailable, SweepSpec, run_sweep
    from deeprecipe.sweep.pruning import doctor_pruner
    from deeprecipe.train.config import TrainConfig
    try:
        doctor_pruner("doctor")
    except DoctorUnavailable as e:
        print(f"cannot run the comparison: {e}", file=sys.stderr)
        return 2
    base = dataclasses.asdict(TrainConfig(data="fashion-mnist", model="mlp:512,256", activation="relu", init="he",
                                          epochs=args.epochs, batch_size=128, train_samples=args.train_samples,
                                          val_fraction=0.1, seed=0, progress="none"))
    params = [{"name": "lr", "kind": "log", "low": 1e-4, "high": 3.0},
              {"name": "optimizer", "kind": "choice", "choices": ["adam", "sgd"]},
              {"name": "weight_decay", "kind": "log", "low": 1e-8, "high": 1e-3},
              {"name": "init", "kind": "choice", "choices": ["he", "normal:0.01"]}]
    rows = []
    for rep in range(args.repeat):
        for arm in args.arms.split(","):
            pruner = arm
            out = os.path.join(args.out, f"rep{rep}-{arm.replace('+', '-')}")
            spec = SweepSpec(base=base, params=params, objective="val_accuracy", trials=args.trials,
                             pruner=pruner, out=out, study_name="bench", sampler="tpe", sampler_seed=rep)
            t0 = time.perf_counter()
            s = run_sweep(spec, workers=args.workers, echo=lambda m: None)
            wall = time.perf_counter() - t0
            best = s["best"] or {}
            rows.append({"repeat": rep, "arm": arm, "best_val_accuracy": best.get("value"),
                         "test_accuracy_of_best": (best.get("test") or {}).get("accuracy"),
                         "trials": s["trials"], "epochs": s["compute"]["epochs"],
                         "train_seconds": s["compute"]["train_seconds"], "wall_seconds": wall})
            r = rows[-1]
            print(f"rep {rep}  {arm:<14} best val acc {r['best_val_accuracy']:.4f}  test acc of best "
                  f"{r['test_accuracy_of_best']}  complete {r['trials'].get('complete')} pruned "
                  f"{r['trials'].get('pruned')}  compute {r['epochs']} epochs, {r['train_seconds']:.0f} s "
                  f"(wall {wall:.0f} s)", flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "comparison.json"), "w", encoding="utf-8") as f:
        json.dump({"settings": vars(args), "base": base, "params": params, "rows": rows}, f, indent=1)
    print(f"saved {os.path.join(args.out, 'comparison.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
