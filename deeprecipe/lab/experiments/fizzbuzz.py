"""fizzbuzz: a small network learns Fizz Buzz from binary-encoded numbers, and a wider hidden
layer does it better (seed 000, "ML Lecture 9-3: Fizz Buzz in Tensorflow (sequel)", after
J. Grus, "Fizz Buzz in Tensorflow", 2016).

Setting (the lecture's Keras demo): inputs are the numbers in 10-bit binary, outputs four
classes (the number, "fizz", "buzz", "fizzbuzz"); training on 101..1023, testing on 1..100
(``deeprecipe.data.fizzbuzz``).  Net: one hidden ReLU layer of each width in ``widths``
(the lecture: 100, then a bigger 1000), softmax output, Glorot-uniform init (Keras' default),
cross-entropy, Adam at lr 1e-3 (Keras' default), mini-batches of 20 for 100 epochs.  The
learning rate is the source's for every width (not tuned per width).  The test numbers are
never used for any choice.  On 1..100 always answering "the number" scores 0.53.

Decision (fixed from the claim's words before running):
  * "learns Fizz Buzz": the widest net's test accuracy has its 95% interval over seeds above
    0.9 (interval below 0.9: does not hold);
  * "wider is better": the paired per-seed difference test acc(widest) − test acc(narrowest)
    has its 95% interval above 0.
Training accuracy is reported beside (whether the nets fit 101..1023 at all).
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..rules import check_diff, check_mean, combine, mean_pair

MAJORITY_TEST_ACC = 0.53          # 53 of 1..100 are plain numbers
LEARNS = 0.9


def fizzbuzz_data():
    from ...data import fizzbuzz
    from ..data import ImageData
    x_tr, y_tr = fizzbuzz(101, 1024, bits=10)
    x_te, y_te = fizzbuzz(1, 101, bits=10)
    empty_x, empty_y = np.zeros((0, 10), np.float32), np.zeros(0, np.int64)
    return ImageData(x_tr, y_tr, empty_x, empty_y, x_te, y_te, "fizzbuzz 101..1023 / 1..100", n_classes=4)


def run(config, seed, ctx):
    from ...train import predict
    from ..training import train_classifier
    data = fizzbuzz_data()
    out = {"widths": np.asarray(config["widths"], dtype=np.int64)}
    for w in config["widths"]:
        metrics, model = train_classifier(
            data, hidden=[int(w)], activation="relu", init="glorot_uniform", optimizer="adam", lr=config["lr"],
            epochs=int(config["epochs"]), batch_size=int(config["batch_size"]), seed=seed,
            eval_every=int(config["eval_every"]), progress=ctx.progress)
        pred = np.argmax(np.asarray(predict(model, data.x_test)), axis=1)
        out[f"w{int(w)}"] = {"curves": metrics["curves"], "final": metrics["final"],
                             "test_pred": pred.astype(np.int64)}
    return out


def plot(results, fig):
    from ..plotting import plot_band
    fig.set_size_inches(11, 4.2)
    a1, a2 = fig.subplots(1, 2)
    widths = [int(w) for w in results.first("widths")]
    for i, w in enumerate(widths):
        ep = np.asarray(results.first(f"w{w}.curves.epoch"))
        plot_band(a1, ep, results.stack(f"w{w}.curves.test_acc"), label=f"{w} hidden: test (1..100)",
                  color=f"C{i}")
        plot_band(a1, ep, results.stack(f"w{w}.curves.train_acc"), label=f"{w} hidden: train (101..1023)",
                  color=f"C{i}", ls="--")
    a1.axhline(MAJORITY_TEST_ACC, color="gray", ls=":", label="always 'number' (0.53)")
    a1.set_xlabel("epoch")
    a1.set_ylabel("accuracy")
    a1.set_title(f"Fizz Buzz, mean ± 95% CI over {results.n} seeds", fontsize=9)
    a1.legend(fontsize=7)
    from ...data import fizzbuzz_labels
    truth = fizzbuzz_labels(np.arange(1, 101))
    shown = [widths[0], widths[-1]] if len(widths) > 1 else widths
    right = np.vstack([(results.stack(f"w{w}.test_pred") == truth[None, :]).astype(float) for w in shown])
    a2.imshow(right, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1, interpolation="nearest",
              extent=(0.5, 100.5, len(right) - 0.5, -0.5))
    a2.set_yticks(range(len(right)))
    a2.set_yticklabels([f"{w} hidden, seed {s}" for w in shown for s in results.seeds], fontsize=7)
    a2.set_xlabel("number (test set 1..100)")
    a2.set_title("right (green) / wrong (red) on each test number", fontsize=9)


def verdict(results):
    widths = [int(w) for w in results.first("widths")]
    lo, hi = widths[0], widths[-1]
    wide, narrow = results.values(f"w{hi}.final.test_acc"), results.values(f"w{lo}.final.test_acc")
    checks = [
        check_mean(f"test acc with {hi} hidden units", wide, ">", LEARNS),
        check_diff(f"test acc {hi} − {lo} hidden units", wide, narrow, ">", 0.0),
    ]
    extra = {f"{w} hidden: train / test acc": mean_pair(results.values(f"w{w}.final.train_acc"),
                                                        results.values(f"w{w}.final.test_acc"))
             for w in widths}
    extra["always 'number' on 1..100"] = MAJORITY_TEST_ACC
    return combine(checks, f"The widest net classifies more than {LEARNS:.0%} of 1..100 correctly after training "
                           f"on 101..1023, and more than the narrowest net (paired over seeds)", extra)


EXPERIMENT = Experiment(
    id="fizzbuzz",
    title="Fizz Buzz with a small network",
    source=("000",),
    claim=("A small network learns Fizz Buzz from binary-encoded numbers (trained on 101..1023, tested on "
           "1..100), and a wider hidden layer does it better."),
    presets={
        "test": dict(widths=[8, 32], lr=1e-3, epochs=3, batch_size=20, eval_every=1, seeds=2),
        "quick": dict(widths=[100, 1000], lr=1e-3, epochs=100, batch_size=20, eval_every=10, seeds=3),
        "full": dict(widths=[10, 100, 1000], lr=1e-3, epochs=100, batch_size=20, eval_every=5, seeds=10),
    },
    run=run, plot=plot, verdict=verdict)
