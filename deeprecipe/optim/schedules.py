"""Learning-rate schedules as pure functions ``step -> lr`` (closed forms, no state).

Every function takes the step (or epoch) index first, counting from 0, and returns the lr
to use for that step.  The torch-compatible classes in ``lr_scheduler.py`` call these, so
one formula serves both; use ``functools.partial`` to fix the hyperparameters:

    sched = partial(cosine, base_lr=0.1, T_max=100)
    lrs = [sched(k) for k in range(100)]

Convention (torch's): constructing a scheduler sets lr = schedule(0); after each
``optimizer.step()`` call ``scheduler.step()``, so the k-th optimizer step (from 0) uses
schedule(k).
"""
from __future__ import annotations

import math
from bisect import bisect_right


def constant(step: int, base_lr: float) -> float:
    """lr = base_lr."""
    return base_lr


def step_decay(step: int, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    """Step decay: base_lr·γ^⌊step/step_size⌋ (torch StepLR)."""
    return base_lr * gamma ** (step // step_size)


def multistep(step: int, base_lr: float, milestones, gamma: float = 0.1) -> float:
    """base_lr·γ^(number of milestones ≤ step) (torch MultiStepLR; repeated milestones count twice)."""
    return base_lr * gamma ** bisect_right(sorted(milestones), step)


def exponential(step: int, base_lr: float, gamma: float) -> float:
    """base_lr·γ^step (torch ExponentialLR)."""
    return base_lr * gamma ** step


def cosine(step: int, base_lr: float, T_max: int, eta_min: float = 0.0) -> float:
    """Cosine annealing (Loshchilov & Hutter 2017, https://arxiv.org/abs/1608.03983, without restarts):
    η_min + ½(base_lr − η_min)(1 + cos(π·step/T_max)).  Not clamped past T_max (it rises
    again, as torch's CosineAnnealingLR does)."""
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * step / T_max)) / 2


def sgdr_position(step: int, T_0: int, T_mult: int = 1) -> tuple[int, int]:
    """(T_cur, T_i) of SGDR at ``step``: the position inside the current cycle and its length
    (cycle lengths T_0, T_0·T_mult, T_0·T_mult², ...), in exact integer arithmetic."""
    if T_mult == 1:
        return step % T_0, T_0
    t_cur, t_i = step, T_0
    while t_cur >= t_i:
        t_cur -= t_i
        t_i *= T_mult
    return t_cur, t_i


def cosine_warm_restarts(step: int, base_lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0) -> float:
    """SGDR, cosine annealing with warm restarts (Loshchilov & Hutter 2017,
    https://arxiv.org/abs/1608.03983; torch CosineAnnealingWarmRestarts):
    η_min + ½(base_lr − η_min)(1 + cos(π·T_cur/T_i))."""
    t_cur, t_i = sgdr_position(step, T_0, T_mult)
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


def _cyclic_position(step, step_size_up, step_size_down):
    up = float(step_size_up)
    down = float(step_size_down) if step_size_down is not None else up
    total = up + down
    ratio = up / total
    cycle = math.floor(1 + step / total)
    x = 1.0 + step / total - cycle
    s = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    return cycle, s


def _cyclic_scale(step, cycle, mode, gamma, scale_fn, scale_mode):
    if scale_fn is not None:
        return scale_fn(cycle if scale_mode == "cycle" else step)
    if mode == "triangular":
        return 1.0
    if mode == "triangular2":
        return 1 / (2.0 ** (cycle - 1))
    if mode == "exp_range":
        return gamma ** step
    raise ValueError(f"mode must be 'triangular', 'triangular2' or 'exp_range', got {mode!r}")


def cyclic(step: int, base_lr: float, max_lr: float, step_size_up: int = 2000, step_size_down: int | None = None,
           mode: str = "triangular", gamma: float = 1.0, scale_fn=None, scale_mode: str = "cycle") -> float:
    """Cyclical learning rates (Smith 2017, https://arxiv.org/abs/1506.01186; torch CyclicLR):
    lr = base + (max − base)·s·scale, s the triangle wave rising over step_size_up steps and
    falling over step_size_down; scale 1 (triangular), 2^−(cycle−1) (triangular2) or
    γ^step (exp_range)."""
    cycle, s = _cyclic_position(step, step_size_up, step_size_down)
    return base_lr + (max_lr - base_lr) * s * _cyclic_scale(step, cycle, mode, gamma, scale_fn, scale_mode)


def cyclic_momentum(step: int, base_momentum: float = 0.8, max_momentum: float = 0.9, step_size_up: int = 2000,
                    step_size_down: int | None = None, mode: str = "triangular", gamma: float = 1.0,
                    scale_fn=None, scale_mode: str = "cycle") -> float:
    """The momentum that CyclicLR cycles inversely to the lr: max − (max − base)·s·scale."""
    cycle, s = _cyclic_position(step, step_size_up, step_size_down)
    return max_momentum - (max_momentum - base_momentum) * s * _cyclic_scale(step, cycle, mode, gamma,
                                                                              scale_fn, scale_mode)


def _anneal(start, end, pct, strategy):
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


def _one_cycle_phases(total_steps, pct_start, three_phase):
    if three_phase:
        return [(float(pct_start * total_steps) - 1, "initial", "max", "max_m", "base_m"),
                (float(2 * pct_start * total_steps) - 2, "max", "initial", "base_m", "max_m"),
                (total_steps - 1, "initial", "min", "max_m", "max_m")]
    return [(float(pct_start * total_steps) - 1, "initial", "max", "max_m", "base_m"),
            (total_steps - 1, "max", "min", "base_m", "max_m")]


def _one_cycle(step, total_steps, pct_start, three_phase, values, anneal_strategy, momentum):
    if step > total_steps:
        raise ValueError(f"one-cycle schedule stepped {step} times, but total_steps is {total_steps}")
    start_step = 0.0
    phases = _one_cycle_phases(total_steps, pct_start, three_phase)
    for i, (end_step, lr0, lr1, m0, m1) in enumerate(phases):
        if step <= end_step or i == len(phases) - 1:
            pct = (step - start_step) / (end_step - start_step)
            if momentum:
                return _anneal(values[m0], values[m1], pct, anneal_strategy)
            return _anneal(values[lr0], values[lr1], pct, anneal_strategy)
        start_step = end_step
    raise AssertionError("unreachable")  # pragma: no cover


def one_cycle(step: int, max_lr: float, total_steps: int, pct_start: float = 0.3, anneal_strategy: str = "cos",
              div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False) -> float:
    """One-cycle policy (Smith & Topin 2018, https://arxiv.org/abs/1708.07120; torch OneCycleLR):
    from max_lr/div_factor up to max_lr over the first pct_start of the steps, then down to
    max_lr/div_factor/final_div_factor, cosine (or linear) annealed.  Steps beyond
    ``total_steps`` raise ``ValueError``."""
    initial = max_lr / div_factor
    values = {"initial": initial, "max": max_lr, "min": initial / final_div_factor}
    return _one_cycle(step, total_steps, pct_start, three_phase, values, anneal_strategy, momentum=False)


def one_cycle_momentum(step: int, total_steps: int, pct_start: float = 0.3, anneal_strategy: str = "cos",
                       base_momentum: float = 0.85, max_momentum: float = 0.95, three_phase: bool = False) -> float:
    """The momentum of the one-cycle policy: max → base while the lr rises, back to max as it falls."""
    values = {"base_m": base_momentum, "max_m": max_momentum}
    return _one_cycle(step, total_steps, pct_start, three_phase, values, anneal_strategy, momentum=True)


def linear_warmup(step: int, base_lr: float, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                  total_iters: int = 5) -> float:
    """Linear warm-up (torch LinearLR): base_lr·(start + (end − start)·min(step, N)/N)."""
    return base_lr * (start_factor + (end_factor - start_factor) * min(total_iters, step) / total_iters)


def noam(step: int, d_model: int, warmup_steps: int, factor: float = 1.0) -> float:
    """The Transformer's schedule (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762):
    factor·d_model^−½·min(s^−½, s·warmup^−1.5), with s = 0 treated as 1; it rises linearly
    for ``warmup_steps`` steps and peaks there, then decays as 1/√s."""
    s = max(step, 1)
    return factor * d_model ** -0.5 * min(s ** -0.5, s * warmup_steps ** -1.5)


def sequential(step: int, schedules, milestones) -> float:
    """Run ``schedules[i]`` (functions step -> lr) between ``milestones[i-1]`` and
    ``milestones[i]``, each restarted at its own step 0 (torch SequentialLR), e.g. a linear
    warm-up then a cosine decay."""
    if len(milestones) != len(schedules) - 1:
        raise ValueError(f"sequential needs len(milestones) == len(schedules) - 1, got {len(milestones)} "
                         f"milestones for {len(schedules)} schedules")
    i = bisect_right(milestones, step)
    start = milestones[i - 1] if i > 0 else 0
    return schedules[i](step - start)
