"""A training job from a :class:`~deeprecipe.train.config.TrainConfig`: data, model,
optimizer, schedule and callbacks, and the output folder (``--out``).

Order matters for the "no partial output" promise: everything that can fail on bad
input (the config, the data, the model against the data) runs before the output folder
is created or touched.

Output folder layout::

    <out>/config.json          the resolved configuration (identifies the run)
    <out>/metrics.csv          one row per epoch (CSVLogger)
    <out>/metrics.json         the whole History, per-step series (the monitors) and the test metrics
    <out>/inputs.json          statistics of the training inputs (what the doctor reads for
                               unnormalized input), written before training starts
    <out>/checkpoints/last.npz the latest training checkpoint (resumable, atomic)
    <out>/checkpoints/best.npz the best epoch by val_loss (when there is a validation split)
    <out>/.deeprecipe-run.json the manifest: the files above, written first; ``--overwrite``
                               removes only these and refuses a folder without a manifest

Exit codes of ``deeprecipe train``: 0 done; 1 the run diverged -- a NaN/inf loss
(``TerminateOnNaN``) or a finite loss above ``1000 x max(running minimum, 1% of the first
loss)`` (``TerminateOnDivergence``, see :mod:`deeprecipe.train.callbacks.divergence`); the
checkpoints on disk are the last ones written before that step, all finite; 2 bad input
or a refused output folder, with nothing written.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys

import numpy as np

from ._io import atomic_write_text
from .config import TrainConfig, parse_model_spec

from ..validation import rundir
from ..validation.rundir import RunDirError  # noqa: F401  (re-exported: the CLI names it)

#: Every file a job writes in ``--out`` (relative, '/'-separated) and its folders; the
#: manifest (``.deeprecipe-run.json``) records them and ``--overwrite`` removes only these.
RUN_FILES = ("config.json", "metrics.csv", "metrics.json", "checkpoints/last.npz", "checkpoints/best.npz",
             "inputs.json")
#: examples of the training set forwarded (eval mode) by the activation monitors
PROBE_SIZE = 256
RUN_DIRS = ("checkpoints",)


# ---------------------------------------------------------------------------- data
@dataclasses.dataclass
class Data:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    num_classes: int
    image_shape: tuple | None  # (C, H, W) for image data, None for feature vectors


def _to_float(x, name):
    from ..data import scale01
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return scale01(x)
    if x.dtype.kind in "iub":
        raise TypeError(f"{name}: integer inputs of dtype {x.dtype} are ambiguous; store uint8 pixels "
                        "or float features")
    if x.dtype.kind != "f":
        raise TypeError(f"{name} must hold numbers, got dtype {x.dtype}")
    return x.astype(np.float32, copy=False)


def _read_npz(path):
    from ..validation.files import read_npz_arrays
    arrays = read_npz_arrays(path, ("x_train", "y_train", "x_test", "y_test"), what="--data file")
    keys = set(arrays)
    if not {"x_train", "y_train"} <= keys:
        raise ValueError(f"{path}: an npz data file needs arrays x_train, y_train (and optionally x_test, "
                         f"y_test); it has {', '.join(sorted(keys)) or 'none'} of them")
    if ("x_test" in keys) != ("y_test" in keys):
        raise ValueError(f"{path}: give both x_test and y_test, or neither")
    return (arrays["x_train"], arrays["y_train"]), ((arrays["x_test"], arrays["y_test"]) if "x_test" in arrays
                                                    else None)


def load_data(cfg: TrainConfig) -> Data:
    """Load ``cfg.data``, scale it to float32, split off validation, shape it for the model."""
    from .. import data as D
    name = cfg.data
    if name.startswith("npz:"):
        train, test = _read_npz(os.path.expanduser(cfg.data[4:]))
    else:
        train, test = D.CATALOG.build(name, context={"seed": cfg.seed, "progress": cfg.progress != "none"})
    from ..validation.labels import check_label_array, infer_num_classes
    from ..validation.splits import check_split
    y_tr = check_label_array(train[1], "y_train")
    check_split(train[0], y_tr, "train")
    x_tr = _to_float(train[0], "x_train")
    x_te = y_te = None
    if test is not None:
        check_split(test[0], test[1], "test", "remove x_test and y_test from the file, or give test samples")
        x_te, y_te = _to_float(test[0], "x_test"), check_label_array(test[1], "y_test")
    # The number of classes sets the model's output size: every label rule runs before it is used.
    num_classes = infer_num_classes(y_tr, y_te)
    x_val = y_val = None
    if cfg.val_fraction > 0:
        (x_tr, y_tr), (x_val, y_val) = D.train_val_split(x_tr, y_tr, cfg.val_fraction, seed=cfg.seed)
        fix = f"val_fraction {cfg.val_fraction} of {len(x_tr) + len(x_val)} samples"
        check_split(x_val, y_val, "val", f"{fix} leaves none; raise it, or set val_fraction 0 for no validation")
        check_split(x_tr, y_tr, "train", f"{fix} leaves none for training; lower it")
    if cfg.train_samples and cfg.train_samples < len(x_tr):
        keep = np.sort(np.random.default_rng(cfg.seed).choice(len(x_tr), cfg.train_samples, replace=False))
        x_tr, y_tr = x_tr[keep], y_tr[keep]
    if cfg.standardize:
        st = D.Standardizer().fit(x_tr)
        x_tr, x_val, x_te = (None if a is None else st.transform(a) for a in (x_tr, x_val, x_te))
    spec = parse_model_spec(cfg.model)
    image_shape = None
    if spec.kind == "cnn":
        def img(x, what):
            if x is None:
                return None
            if x.ndim == 3:
                return x[:, None]
            if x.ndim == 4:
                return x
            raise ValueError(f"model {cfg.model!r} needs images (N, H, W) or (N, C, H, W); {what} has shape {x.shape}")
        x_tr, x_val, x_te = img(x_tr, "x_train"), img(x_val, "x_val"), img(x_te, "x_test")
        image_shape = tuple(x_tr.shape[1:])
    else:
        flat = lambda x: None if x is None else x.reshape(len(x), -1)  # noqa: E731
        x_tr, x_val, x_te = flat(x_tr), flat(x_val), flat(x_te)
    return Data(np.ascontiguousarray(x_tr), y_tr, x_val, y_val, x_te, y_te, num_classes, image_shape)


# ---------------------------------------------------------------------------- model etc.
def build_model(cfg: TrainConfig, data: Data):
    from .. import backend, nn
    spec = parse_model_spec(cfg.model)
    backend.seed(cfg.seed)
    init = None if cfg.init == "default" else cfg.init
    norm = None if cfg.norm == "none" else cfg.norm   # specs: nn.MLP/ConvNet read the registries
    if spec.kind == "mlp":
        model = nn.MLP([data.x_train.shape[1], *spec.hidden, data.num_classes], activation=cfg.activation,
                       norm=norm, dropout=cfg.dropout, init=init, rng=cfg.seed)
    else:
        model = nn.ConvNet(input_shape=data.image_shape, channels=spec.hidden, num_classes=data.num_classes,
                           hidden=spec.fc, activation=cfg.activation, norm=norm, dropout=cfg.dropout, init=init,
                           rng=cfg.seed)
    if cfg.device != "cpu":
        model.to(cfg.device)
    return model


def build_optimizer(cfg: TrainConfig, model):
    """The optimizer spec with ``lr`` and, when set, ``momentum``/``weight_decay`` (which the
    chosen optimizer must accept; the spec's own values win)."""
    from .. import optim
    name = cfg.optimizer.partition(":")[0]
    accepted = optim.OPTIMIZERS.parameters(name)
    kwargs = {"lr": cfg.lr}
    for key, value, default in (("momentum", cfg.momentum, 0.0), ("weight_decay", cfg.weight_decay, 0.0)):
        if value != default:
            if key not in accepted:
                raise ValueError(f"optimizer {cfg.optimizer!r} takes no {key}; leave {key} at {default}")
            kwargs[key] = value
    if cfg.cuda_graph and "capturable" in accepted:
        kwargs["capturable"] = True   # step counts and lr on the device, for the graph's replays
    return optim.create(cfg.optimizer, model.parameters(), **kwargs)


def input_stats(x) -> dict:
    """Summary of the training inputs: overall mean/std/min/max and the spread of the
    per-feature means and standard deviations (the doctor's unnormalized-input signal)."""
    x = np.asarray(x).reshape(len(x), -1)
    mean = x.mean(axis=0, dtype=np.float64)
    std = x.std(axis=0, dtype=np.float64)
    live = std[std > 0]
    return {"n": int(len(x)), "features": int(x.shape[1]), "mean": float(x.mean(dtype=np.float64)),
            "std": float(x.std(dtype=np.float64)), "min": float(x.min()), "max": float(x.max()),
            "abs_feature_mean_max": float(np.abs(mean).max()),
            "feature_std_max": float(std.max()), "feature_std_min": float(live.min()) if live.size else 0.0}


def build_monitors(cfg: TrainConfig, data: Data, inputs: dict, steps_per_epoch: int):
    """The doctor's recorders: monitors every ``cfg.monitor_every`` steps (at most every
    epoch's length, so every epoch has a record) on a fixed probe batch, and the live
    ``Doctor`` when ``cfg.doctor`` is not ``"off"``."""
    cbs = []
    if cfg.monitor_every:
        from ..diagnostics import MonitorCallback
        probe = data.x_train[:PROBE_SIZE]
        every = max(1, min(cfg.monitor_every, steps_per_epoch))
        cbs.append(MonitorCallback(every=every, probe=probe, batch_loss=True))
    if cfg.doctor != "off":
        from ..doctor import Doctor
        cbs.append(Doctor(stop=cfg.doctor == "stop", inputs=inputs, config=cfg.to_dict()))
    return cbs


def build_callbacks(cfg: TrainConfig, out: str, steps_per_epoch: int):
    from .callbacks import CSVLogger, EarlyStopping, ModelCheckpoint, ProgressBar, TerminateOnDivergence, TerminateOnNaN
    from .schedules import SCHEDULES
    cbs = []
    if cfg.progress != "none":
        cbs.append(ProgressBar(cfg.progress))
    cbs.append(TerminateOnNaN())
    cbs.append(TerminateOnDivergence())
    if cfg.schedule != "none":
        cbs.append(SCHEDULES.build(cfg.schedule, context={
            "lr": cfg.lr, "epochs": cfg.epochs, "steps_per_epoch": steps_per_epoch,
            "total_steps": cfg.epochs * steps_per_epoch}))
    has_val = cfg.val_fraction > 0
    if cfg.patience:
        cbs.append(EarlyStopping("val_loss", patience=cfg.patience, restore_best_weights=True))
    cbs.append(CSVLogger(os.path.join(out, "metrics.csv")))
    cbs.append(ModelCheckpoint(os.path.join(out, "checkpoints"), monitor="val_loss", save_best=has_val,
                               every_n_steps=cfg.checkpoint_every or None))
    return cbs


# ---------------------------------------------------------------------------- output folder
def default_out(cfg: TrainConfig) -> str:
    import re
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{cfg.data}-{cfg.model}-seed{cfg.seed}").strip("-")
    return os.path.join("runs", name)


def _diff(old: dict, new: dict) -> str:
    keys = sorted(set(old) | set(new))
    lines = [f"  {k}: {old.get(k, '(unset)')!r} -> {new.get(k, '(unset)')!r}" for k in keys if old.get(k) != new.get(k)]
    return "\n".join(lines)


def check_out_dir(cfg: TrainConfig) -> str:
    """Decide what to do with ``cfg.out`` without touching it.

    Returns ``'new'`` (start a run), ``'resume'`` (continue the run there) or
    ``'overwrite'`` (replace the run there); raises :class:`RunDirError` otherwise.
    """
    out = cfg.out
    cfg_path = os.path.join(out, "config.json")
    if os.path.lexists(out) and not os.path.isdir(out):
        raise RunDirError(f"--out {out!r} exists and is not a folder; choose another --out")
    manifest = rundir.read_manifest(out) if os.path.isdir(out) else None
    rundir.check_no_links(out, (*RUN_FILES, *RUN_DIRS))
    ours = [f for f in (*RUN_FILES, *RUN_DIRS) if os.path.lexists(os.path.join(out, f))]
    if cfg.overwrite:
        if manifest is None and os.path.isdir(out) and os.listdir(out):
            raise RunDirError(
                f"--overwrite: {out!r} was not created by deeprecipe train (it has no {rundir.MANIFEST} listing "
                "the files a run wrote), so nothing in it is deleted; choose another --out, or remove "
                "the files yourself")
        return "overwrite" if manifest is not None else "new"
    if not ours:
        if cfg.resume:
            raise RunDirError(f"--resume: {out!r} holds no run to continue (no config.json); "
                              "drop --resume to start one")
        return "new"
    if not os.path.exists(cfg_path):
        raise RunDirError(f"{out!r} holds files of a run ({', '.join(ours)}) but no config.json; "
                          "choose another --out" + (" or pass --overwrite to replace them" if manifest else ""))
    try:
        with open(cfg_path, encoding="utf-8") as f:
            old = json.load(f)
    except (OSError, ValueError) as e:
        raise RunDirError(f"{cfg_path} cannot be read ({e}); pass --overwrite to replace the run") from None
    old_id = {k: v for k, v in old.items() if k not in TrainConfig.RUNTIME_KEYS}
    new_id = cfg.identity()
    if old_id != new_id:
        raise RunDirError(f"{out!r} already holds a different run:\n{_diff(old_id, new_id)}\n"
                          + ("pass --overwrite to replace it, or choose another --out" if manifest
                             else "choose another --out (the folder has no run manifest, so --overwrite refuses it)"))
    if not cfg.resume:
        raise RunDirError(f"{out!r} already holds this run; pass --resume to continue it"
                          + (" or --overwrite to start it again" if manifest else ""))
    return "resume"


def clear_run(out: str) -> list:
    """Remove the files the run's manifest lists (and nothing else) from ``out``."""
    manifest = rundir.read_manifest(out)
    if manifest is None:
        return []
    return rundir.remove_run_files(out, manifest, RUN_FILES, RUN_DIRS)


# ---------------------------------------------------------------------------- the job
def run(cfg: TrainConfig) -> dict:
    """Run a whole job: checks, output folder, fit, test evaluation. Returns the summary dict."""
    from .evaluation import evaluate
    from .loop import Trainer
    from .validation import check_fit_arrays
    if not cfg.out:
        cfg.out = default_out(cfg)
    out = cfg.out
    mode = check_out_dir(cfg)
    from ..backend import blas_threads
    with blas_threads(cfg.threads):
        data = load_data(cfg)
        model = build_model(cfg, data)
        optimizer = build_optimizer(cfg, model)
        # Every input check before the first byte is written.
        check_fit_arrays(model, data.x_train, data.y_train, "classes", "train")
        if data.x_val is not None:
            check_fit_arrays(model, data.x_val, data.y_val, "classes", "val")
        if data.x_test is not None:
            check_fit_arrays(model, data.x_test, data.y_test, "classes", "test")
        steps = -(-len(data.x_train) // cfg.batch_size)
        ckpt = os.path.join(out, "checkpoints", "last.npz")
        resume_from = ckpt if (mode == "resume" and os.path.exists(ckpt)) else None
        if mode == "resume" and resume_from is None:
            print(f"note: {out!r} has no checkpoint yet; starting the run from the beginning", file=sys.stderr)
        if mode == "overwrite":
            clear_run(out)
        os.makedirs(out, exist_ok=True)
        # The manifest first: whatever is written next, --overwrite knows it is ours.
        rundir.write_manifest(out, RUN_FILES, RUN_DIRS, atomic_write_text)
        atomic_write_text(os.path.join(out, "config.json"), json.dumps(cfg.to_dict(), indent=2, sort_keys=True) + "\n")
        inputs = {**input_stats(data.x_train), "classes": data.num_classes}
        atomic_write_text(os.path.join(out, "inputs.json"), json.dumps(inputs, indent=1) + "\n")
        callbacks = build_callbacks(cfg, out, steps) + build_monitors(cfg, data, inputs, steps)
        trainer = Trainer(model, loss="cross_entropy", optimizer=optimizer, metrics=["accuracy"],
                          callbacks=callbacks, verbose=0, cuda_graph=cfg.cuda_graph)
        val = None if data.x_val is None else (data.x_val, data.y_val)
        history = trainer.fit((data.x_train, data.y_train), val, epochs=cfg.epochs, batch_size=cfg.batch_size,
                              seed=cfg.seed, resume_from=resume_from)
        test = None
        if data.x_test is not None and not trainer.diverged:
            test = evaluate(model, data.x_test, data.y_test)
    summary = {"config": cfg.to_dict(), "history": history.to_dict(), "inputs": inputs,
               "test": test, "stop_reason": history.stop_reason, "diverged": trainer.diverged}
    atomic_write_text(os.path.join(out, "metrics.json"), json.dumps(summary, indent=1) + "\n")
    return summary
