"""torch-compatible learning-rate schedulers that drive an optimizer's ``group['lr']``.

Size: a catalog, one short class per torch scheduler over the pure schedules of
``schedules.py``.

Same names, arguments and lr sequences as ``torch.optim.lr_scheduler`` (checked to
rtol 1e-12), with one difference in how they compute: each lr is the closed form
``schedule(last_epoch)`` from ``schedules.py`` applied to the group's ``initial_lr``,
where several torch classes update the current lr recursively ("chainable" form).  The
sequences agree; the closed form does not drift and resumes from ``state_dict`` exactly.
What is given up: torch lets two chainable schedulers multiply their effects on one
optimizer (e.g. ExponentialLR and MultiStepLR stepped together); here the scheduler
stepped last sets the lr — combine schedules with ``SequentialLR`` or ``LambdaLR`` instead.

Usage (torch's convention): build the scheduler (it sets lr = schedule(0)), then after
every ``optimizer.step()`` call ``scheduler.step()``.

    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = CosineAnnealingLR(opt, T_max=100)
    for epoch in range(100):
        train_one_epoch(opt)
        sched.step()
"""
from __future__ import annotations

import math
import numbers
from bisect import bisect_right

from . import schedules as S


def _check_optimizer(optimizer):
    if not hasattr(optimizer, "param_groups"):
        raise TypeError(f"{type(optimizer).__name__} is not an optimizer (it has no param_groups)")


def _per_group(name, optimizer, value):
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"expected {len(optimizer.param_groups)} values for {name}, got {len(value)}")
        return list(value)
    return [value] * len(optimizer.param_groups)


def _set_momentum(optimizer, values, use_beta1):
    for group, m in zip(optimizer.param_groups, values):
        if use_beta1:
            group["betas"] = (m, *group["betas"][1:])
        else:
            group["momentum"] = m


def _momentum_key(optimizer):
    defaults = getattr(optimizer, "defaults", {})
    if "momentum" not in defaults and "betas" not in defaults:
        raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
    return "betas" in defaults


class LRScheduler:
    """Base class: ``base_lrs`` from each group's ``initial_lr``, ``last_epoch`` (the index of
    the step whose lr is current), ``step()``, ``get_last_lr()``, ``state_dict()``.

    Subclasses implement ``lr_at(epoch) -> list of lrs`` (closed form)."""

    def __init__(self, optimizer, last_epoch: int = -1):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming a "
                                   "scheduler with last_epoch >= 0; load the optimizer's state first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self.step()

    def lr_at(self, epoch: int) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_lr(self) -> list:
        """The lrs for the current ``last_epoch`` (use ``get_last_lr()`` to read what was set)."""
        return self.lr_at(self.last_epoch)

    def _apply(self, lrs) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def step(self, epoch: int | None = None) -> None:
        """Advance to the next epoch/step (or jump to ``epoch``) and set the optimizer's lrs."""
        self._step_count += 1
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        self._apply(self.get_lr())

    def get_last_lr(self) -> list:
        return list(self._last_lr)

    _not_saved = ("optimizer",)

    def state_dict(self) -> dict:
        """Everything but the optimizer (and functions): JSON-able numbers and lists."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()
                if k not in self._not_saved and not callable(v)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update({k: v for k, v in state_dict.items() if k not in self._not_saved})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={getattr(self, '_last_lr', None)})"


class LambdaLR(LRScheduler):
    """lr = initial_lr · lr_lambda(epoch) (one function, or one per group).  The functions
    are not saved by ``state_dict`` (as in torch)."""

    _not_saved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        _check_optimizer(optimizer)
        fns = _per_group("lr_lambda", optimizer, lr_lambda)
        if not all(callable(f) for f in fns):
            raise TypeError("lr_lambda must be a function of the epoch (or a list of them, one per group)")
        self.lr_lambdas = fns
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch):
        return [base * fn(epoch) for base, fn in zip(self.base_lrs, self.lr_lambdas)]


class ScheduleLR(LRScheduler):
    """Drive an optimizer with pure schedules ``step -> lr`` (absolute lrs, not factors),
    e.g. ``ScheduleLR(opt, partial(schedules.noam, d_model=512, warmup_steps=4000))``."""

    _not_saved = ("optimizer", "schedules")

    def __init__(self, optimizer, schedule, last_epoch: int = -1):
        _check_optimizer(optimizer)
        fns = _per_group("schedule", optimizer, schedule)
        if not all(callable(f) for f in fns):
            raise TypeError("schedule must be a function step -> lr (or a list of them, one per group)")
        self.schedules = fns
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch):
        return [fn(epoch) for fn in self.schedules]


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if isinstance(step_size, bool) or not isinstance(step_size, numbers.Integral) or step_size < 1:
            raise ValueError(f"step_size must be a positive integer, got {step_size!r}")
        self.step_size = int(step_size)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch):
        return [S.step_decay(epoch, b, self.step_size, self.gamma) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each milestone epoch."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch):
        return [S.multistep(epoch, b, self.milestones, self.gamma) for b in self.base_lrs]


class ConstantLR(LRScheduler):
    """lr · factor until ``total_iters``, then lr."""

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        if factor > 1.0 or factor < 0:
            raise ValueError("Constant multiplicative factor expected to be between 0 and 1.")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch):
        return [b * (self.factor + (epoch >= self.total_iters) * (1 - self.factor)) for b in self.base_lrs]


class LinearLR(LRScheduler):
    """Linear warm-up (or decay) of the factor from ``start_factor`` to ``end_factor`` over
    ``total_iters`` epochs."""

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5,
                 last_epoch: int = -1):
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 and less or equal to 1.")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch):
        return [S.linear_warmup(epoch, b, self.start_factor, self.end_factor, self.total_iters)
                for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch):
        return [S.exponential(epoch, b, self.gamma) for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the initial lr to ``eta_min`` over ``T_max`` epochs (periodic past it)."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if T_max <= 0:
            raise ValueError(f"T_max must be positive, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch):
        return [S.cosine(epoch, b, self.T_max, self.eta_min) for b in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR: cosine annealing restarted every T_i epochs, T_0, T_0·T_mult, ...; ``T_cur`` and
    ``T_i`` are the position in and length of the current cycle."""

    def __init__(self, optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1):
        if isinstance(T_0, bool) or not isinstance(T_0, numbers.Integral) or T_0 <= 0:
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if isinstance(T_mult, bool) or not isinstance(T_mult, numbers.Integral) or T_mult < 1:
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        self.T_0 = int(T_0)
        self.T_mult = int(T_mult)
        self.eta_min = eta_min
        self.T_i = self.T_0
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch):
        return [S.cosine_warm_restarts(epoch, b, self.T_0, self.T_mult, self.eta_min) for b in self.base_lrs]

    def step(self, epoch: int | None = None) -> None:
        super().step(epoch)
        self.T_cur, self.T_i = S.sgdr_position(self.last_epoch, self.T_0, self.T_mult)


class CyclicLR(LRScheduler):
    """Cyclical learning rates between ``base_lr`` and ``max_lr`` (per iteration), cycling
    momentum (or Adam's β1) inversely between ``max_momentum`` and ``base_momentum``."""

    _not_saved = ("optimizer", "scale_fn")

    def __init__(self, optimizer, base_lr, max_lr, step_size_up: int = 2000, step_size_down: int | None = None,
                 mode: str = "triangular", gamma: float = 1.0, scale_fn=None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum=0.8, max_momentum=0.9, last_epoch: int = -1):
        _check_optimizer(optimizer)
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError("mode is invalid and scale_fn is None")
        base_lrs = _per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)
        self.step_size_up = step_size_up
        self.step_size_down = step_size_down
        self.mode = mode
        self.gamma = gamma
        self.scale_fn = scale_fn
        if scale_fn is None:
            scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self.scale_mode = scale_mode
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _momentum_key(optimizer)
            self.base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            self.max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                _set_momentum(optimizer, self.max_momentums, self.use_beta1)
                for group, mm, bm in zip(optimizer.param_groups, self.max_momentums, self.base_momentums):
                    group["max_momentum"] = mm
                    group["base_momentum"] = bm
        self._cyclic_base_lrs = base_lrs
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _kw(self):
        return dict(step_size_up=self.step_size_up, step_size_down=self.step_size_down, mode=self.mode,
                    gamma=self.gamma, scale_fn=self.scale_fn, scale_mode=self.scale_mode)

    def lr_at(self, epoch):
        return [S.cyclic(epoch, b, m, **self._kw()) for b, m in zip(self._cyclic_base_lrs, self.max_lrs)]

    def momentum_at(self, epoch):
        return [S.cyclic_momentum(epoch, b, m, **self._kw()) for b, m in zip(self.base_momentums, self.max_momentums)]

    def step(self, epoch: int | None = None) -> None:
        super().step(epoch)
        if self.cycle_momentum:
            _set_momentum(self.optimizer, self.momentum_at(self.last_epoch), self.use_beta1)


class OneCycleLR(LRScheduler):
    """The one-cycle policy over ``total_steps`` (or ``epochs * steps_per_epoch``) steps,
    with the momentum (or β1) cycled max → base → max.  Stepping past ``total_steps``
    raises ``ValueError``."""

    def __init__(self, optimizer, max_lr, total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False, last_epoch: int = -1):
        _check_optimizer(optimizer)
        if total_steps is not None:
            if isinstance(total_steps, bool) or not isinstance(total_steps, numbers.Integral) or total_steps <= 0:
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = int(total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, numbers.Integral) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, numbers.Integral) or steps_per_epoch <= 0:
                raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
            self.total_steps = int(epochs * steps_per_epoch)
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self.pct_start = pct_start
        self.anneal_strategy = anneal_strategy
        self.three_phase = three_phase
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, m in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = m / div_factor
                group["max_lr"] = m
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _momentum_key(optimizer)
            if last_epoch == -1:
                maxm = _per_group("max_momentum", optimizer, max_momentum)
                basem = _per_group("base_momentum", optimizer, base_momentum)
                _set_momentum(optimizer, maxm, self.use_beta1)
                for group, mm, bm in zip(optimizer.param_groups, maxm, basem):
                    group["max_momentum"] = mm
                    group["base_momentum"] = bm
        super().__init__(optimizer, last_epoch)

    def _values(self, group):
        return {"initial": group["initial_lr"], "max": group["max_lr"], "min": group["min_lr"],
                "max_m": group.get("max_momentum"), "base_m": group.get("base_momentum")}

    def lr_at(self, epoch):
        return [S._one_cycle(epoch, self.total_steps, self.pct_start, self.three_phase, self._values(g),
                             self.anneal_strategy, momentum=False) for g in self.optimizer.param_groups]

    def momentum_at(self, epoch):
        return [S._one_cycle(epoch, self.total_steps, self.pct_start, self.three_phase, self._values(g),
                             self.anneal_strategy, momentum=True) for g in self.optimizer.param_groups]

    def step(self, epoch: int | None = None) -> None:
        super().step(epoch)
        if self.cycle_momentum:
            _set_momentum(self.optimizer, self.momentum_at(self.last_epoch), self.use_beta1)


class SequentialLR(LRScheduler):
    """Run ``schedulers[i]`` between ``milestones[i-1]`` and ``milestones[i]``, each from its
    own epoch 0 (e.g. ``LinearLR`` warm-up, then ``CosineAnnealingLR``)."""

    _not_saved = ("optimizer", "_schedulers")

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        _check_optimizer(optimizer)
        if len(schedulers) < 1:
            raise ValueError("SequentialLR expects at least one scheduler")
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"SequentialLR does not support ReduceLROnPlateau (scheduler {i}): it needs a "
                                 "metric at every step")
            if not isinstance(s, LRScheduler):
                raise TypeError(f"scheduler {i} is a {type(s).__name__}, not an LRScheduler")
            if s.optimizer is not optimizer:
                raise ValueError(f"SequentialLR expects all schedulers to belong to the same optimizer, but "
                                 f"scheduler {i} ({type(s).__name__}) drives another one")
        milestones = [int(m) for m in milestones]
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR expects len(milestones) == len(schedulers) - 1, got {len(milestones)} "
                             f"milestones for {len(schedulers)} schedulers")
        self.optimizer = optimizer
        self._schedulers = list(schedulers)
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self._step_count = 0
        self._activate(self.last_epoch)

    def _activate(self, epoch):
        i = bisect_right(self._milestones, epoch)
        local = epoch - (self._milestones[i - 1] if i > 0 else 0)
        sched = self._schedulers[i]
        sched.last_epoch = local
        sched._apply(sched.lr_at(local))
        if hasattr(sched, "momentum_at") and getattr(sched, "cycle_momentum", False):
            _set_momentum(self.optimizer, sched.momentum_at(local), sched.use_beta1)
        self._last_lr = sched.get_last_lr()

    def lr_at(self, epoch):
        i = bisect_right(self._milestones, epoch)
        return self._schedulers[i].lr_at(epoch - (self._milestones[i - 1] if i > 0 else 0))

    def step(self, epoch: int | None = None) -> None:
        self._step_count += 1
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        self._activate(self.last_epoch)

    def state_dict(self) -> dict:
        d = super().state_dict()
        d["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return d

    def load_state_dict(self, state_dict: dict) -> None:
        subs = state_dict.get("_schedulers", [])
        super().load_state_dict({k: v for k, v in state_dict.items() if k != "_schedulers"})
        for s, d in zip(self._schedulers, subs):
            s.load_state_dict(d)


class ReduceLROnPlateau:
    """Cut the lr by ``factor`` when a metric stops improving (torch semantics).

    ``step(metric)`` once per epoch.  An epoch improves when the metric beats the best so
    far by more than ``threshold`` (relative: best·(1 ∓ threshold); absolute: best ∓
    threshold).  After ``patience`` non-improving epochs, the next non-improving one —
    the (patience+1)-th in a row — cuts the lr to max(lr·factor, min_lr) (skipped when the
    change is below ``eps``), resets the count and starts ``cooldown`` epochs during which
    bad epochs are not counted.  (Keras's ReduceLROnPlateau cuts one epoch earlier, when
    the count reaches ``patience``.)
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr=0.0,
                 eps: float = 1e-8):
        _check_optimizer(optimizer)
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        if mode not in ("min", "max"):
            raise ValueError(f"mode {mode!r} is unknown; use 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold mode {threshold_mode!r} is unknown; use 'rel' or 'abs'")
        self.optimizer = optimizer
        self.factor = factor
        self.min_lrs = _per_group("min_lr", optimizer, min_lr)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.num_bad_epochs = 0
        self._last_lr = [g["lr"] for g in optimizer.param_groups]

    def is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def step(self, metrics) -> None:
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for i, group in enumerate(self.optimizer.param_groups):
                old = float(group["lr"])
                new = max(old * self.factor, self.min_lrs[i])
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list:
        return list(self._last_lr)

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "optimizer"})

