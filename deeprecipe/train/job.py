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
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys

import numpy as np

from ._io import atomic_write_text
from .config import TrainConfig, parse_init_spec, parse_model_spec

RUN_FILES = ("config.json", "metrics.csv", "metrics.json", "inputs.json")
#: examples of the training set forwarded (eval mode) by the activation monitors
PROBE_SIZE = 256
RUN_DIRS = ("checkpoints",)


class RunDirError(ValueError):
    """The output folder holds a run that this command must not overwrite."""


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
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file {path!r} does not exist")
    with np.load(path, allow_pickle=False) as z:
        keys = set(z.files)
        need = {"x_train", "y_train"}
        if not need <= keys:
            raise ValueError(f"{path}: an npz data file needs arrays x_train, y_train (and optionally x_test, "
                             f"y_test); it has {', '.join(sorted(keys)) or 'none'}")
        if ("x_test" in keys) != ("y_test" in keys):
            raise ValueError(f"{path}: give both x_test and y_test, or neither")
        arrays = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test") if k in keys}
    return (arrays["x_train"], arrays["y_train"]), ((arrays["x_test"], arrays["y_test"]) if "x_test" in arrays
                                                    else None)


def load_data(cfg: TrainConfig) -> Data:
    """Load ``cfg.data``, scale it to float32, split off validation, shape it for the model."""
    from .. import data as D
    name = cfg.data
    if name.startswith("npz:"):
        train, test = _read_npz(os.path.expanduser(cfg.data[4:]))
    elif name in ("fashion-mnist", "mnist"):
        train, test = D.load(name, progress=cfg.progress != "none")
    elif name == "digits":
        train, test = D.digits(seed=cfg.seed)
    else:
        x, y = D.spirals(seed=cfg.seed) if name == "spirals" else D.blobs(seed=cfg.seed)
        train, test = D.train_val_split(x, y, 0.2, seed=cfg.seed)
        if name == "blobs":
            # blobs' centers lie in [-10, 10]: standardize (with the training part's statistics)
            # so that a run on them is not an unnormalized-input run.
            st = D.Standardizer().fit(train[0])
            train, test = (st.transform(train[0]), train[1]), (st.transform(test[0]), test[1])
    x_tr = _to_float(train[0], "x_train")
    y_tr = np.asarray(train[1])
    x_te = None if test is None else _to_float(test[0], "x_test")
    y_te = None if test is None else np.asarray(test[1])
    for what, y in (("y_train", y_tr), ("y_test", y_te)):
        if y is not None and (y.ndim != 1 or y.dtype.kind not in "iu"):
            raise ValueError(f"{what} must be integer class labels of shape (N,), got {y.dtype} {y.shape}")
    if len(x_tr) != len(y_tr):
        raise ValueError(f"x_train has {len(x_tr)} samples but y_train has {len(y_tr)}")
    if len(y_tr) == 0:
        raise ValueError("the training set is empty")
    num_classes = int(max(y_tr.max(), -1 if y_te is None or len(y_te) == 0 else y_te.max())) + 1
    x_val = y_val = None
    if cfg.val_fraction > 0:
        (x_tr, y_tr), (x_val, y_val) = D.train_val_split(x_tr, y_tr, cfg.val_fraction, seed=cfg.seed)
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
    init = parse_init_spec(cfg.init)
    norm = None if cfg.norm == "none" else cfg.norm
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
    import inspect
    from .loop import resolve_optimizer_class
    cls = resolve_optimizer_class(cfg.optimizer)
    accepted = inspect.signature(cls).parameters
    kwargs = {"lr": cfg.lr}
    for name, value, default in (("momentum", cfg.momentum, 0.0), ("weight_decay", cfg.weight_decay, 0.0)):
        if value != default:
            if name not in accepted:
                raise ValueError(f"optimizer {cfg.optimizer!r} takes no {name}; leave {name} at {default}")
            kwargs[name] = value
    return cls(model.parameters(), **kwargs)


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
    from .callbacks import (CSVLogger, EarlyStopping, LRScheduler, ModelCheckpoint, ProgressBar,
                            ReduceLROnPlateau, TerminateOnNaN)
    cbs = []
    if cfg.progress != "none":
        cbs.append(ProgressBar(cfg.progress))
    cbs.append(TerminateOnNaN())
    total = cfg.epochs * steps_per_epoch
    if cfg.schedule != "none":
        from ..optim import lr_scheduler as S
        if cfg.schedule == "onecycle":
            cbs.append(LRScheduler(lambda opt: S.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total), "step"))
        elif cfg.schedule == "cosine":
            cbs.append(LRScheduler(lambda opt: S.CosineAnnealingLR(opt, T_max=total), "step"))
        elif cfg.schedule == "step":
            step = max(1, cfg.epochs // 3)
            cbs.append(LRScheduler(lambda opt: S.StepLR(opt, step_size=step, gamma=0.1), "epoch"))
        elif cfg.schedule == "plateau":
            cbs.append(ReduceLROnPlateau("val_loss", factor=0.5, patience=2))
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
    ours = [f for f in (*RUN_FILES, *RUN_DIRS) if os.path.exists(os.path.join(out, f))]
    if not ours:
        if cfg.resume:
            raise RunDirError(f"--resume: {out!r} holds no run to continue (no config.json); "
                              "drop --resume to start one")
        return "new"
    if cfg.overwrite:
        return "overwrite"
    if not os.path.exists(cfg_path):
        raise RunDirError(f"{out!r} holds files of a run ({', '.join(ours)}) but no config.json; "
                          "pass --overwrite to replace them or choose another --out")
    try:
        with open(cfg_path, encoding="utf-8") as f:
            old = json.load(f)
    except (OSError, ValueError) as e:
        raise RunDirError(f"{cfg_path} cannot be read ({e}); pass --overwrite to replace the run") from None
    old_id = {k: v for k, v in old.items() if k not in TrainConfig.RUNTIME_KEYS}
    new_id = cfg.identity()
    if old_id != new_id:
        raise RunDirError(f"{out!r} already holds a different run:\n{_diff(old_id, new_id)}\n"
                          "pass --overwrite to replace it, or choose another --out")
    if not cfg.resume:
        raise RunDirError(f"{out!r} already holds this run; pass --resume to continue it or --overwrite "
                          "to start it again")
    return "resume"


def clear_run(out: str) -> None:
    """Remove the files a run writes (and nothing else) from ``out``."""
    for f in RUN_FILES:
        p = os.path.join(out, f)
        if os.path.exists(p):
            os.remove(p)
    for d in RUN_DIRS:
        p = os.path.join(out, d)
        if os.path.isdir(p):
            shutil.rmtree(p)


@contextlib.contextmanager
def blas_threads(n: int):
    """Limit BLAS/OpenMP threads to ``n`` for the duration (0: leave them).

    Uses threadpoolctl when installed (it changes the limit of the already loaded BLAS).
    Without it nothing can be done once NumPy is imported: set ``OPENBLAS_NUM_THREADS=n``
    (and ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``) in the environment before starting.
    """
    if not n:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print(f"warning: --threads {n} needs threadpoolctl (pip install threadpoolctl); NumPy is already "
              f"loaded, so set OPENBLAS_NUM_THREADS={n} OMP_NUM_THREADS={n} before starting instead",
              file=sys.stderr)
        yield
        return
    with threadpool_limits(limits=n):
        yield


# ---------------------------------------------------------------------------- the job
def run(cfg: TrainConfig) -> dict:
    """Run a whole job: checks, output folder, fit, test evaluation. Returns the summary dict."""
    from .loop import Trainer, evaluate
    from .validation import check_fit_arrays
    if not cfg.out:
        cfg.out = default_out(cfg)
    out = cfg.out
    mode = check_out_dir(cfg)
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
        atomic_write_text(os.path.join(out, "config.json"), json.dumps(cfg.to_dict(), indent=2, sort_keys=True) + "\n")
        inputs = {**input_stats(data.x_train), "classes": data.num_classes}
        atomic_write_text(os.path.join(out, "inputs.json"), json.dumps(inputs, indent=1) + "\n")
        callbacks = build_callbacks(cfg, out, steps) + build_monitors(cfg, data, inputs, steps)
        trainer = Trainer(model, loss="cross_entropy", optimizer=optimizer, metrics=["accuracy"],
                          callbacks=callbacks, verbose=0)
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
