"""THE table of optimizer configurations that the optimizer tests loop over.

Each entry names a deeprecipe optimizer and its hyperparameters, the torch.optim class with
the same semantics (or None: checked against the reference formulas of OPTIM_SPEC.md in
test_reference_formulas.py instead), and the budgets of the convergence tests.

  oracle tests        : every entry with ``torch``       (test_torch_oracle.py)
  reference formulas  : every entry with ``reference``   (test_reference_formulas.py)
  convergence         : every entry                     (test_convergence.py)
  state/resume        : every entry                     (test_state.py)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from deeprecipe import optim


@dataclass(frozen=True)
class OptConfig:
    id: str
    name: str                      # class in deeprecipe.optim
    kwargs: dict                   # hyperparameters, torch's names; ``lr`` is the oracle-test lr
    torch: str | None = None       # torch.optim class with the same semantics
    reference: str | None = None   # reference formula in test_reference_formulas.py
    quad_budget: int = 2000        # steps to reach f − f* ≤ quad_tol·(f0 − f*) on the 20-D quadratic
    quad_lr: float | None = None   # lr for that (default: kwargs['lr'])
    quad_tol: float = 1e-8
    rosen_budget: int = 10000      # steps to reach ‖x − (1, 1)‖ ≤ 1e-2 on Rosenbrock from (−1.2, 1)
    rosen_kwargs: dict = field(default_factory=dict)  # overrides for Rosenbrock
    inner: tuple | None = None     # Lookahead: (inner class name, inner kwargs)

    def make(self, params, **override):
        if self.name == "Lookahead":
            cls_name, inner_kw = self.inner
            outer = {k: v for k, v in override.items() if k in ("k", "alpha")}
            inner_kw = {**inner_kw, **{k: v for k, v in override.items() if k not in outer}}
            return optim.Lookahead(getattr(optim, cls_name)(params, **inner_kw), **{**self.kwargs, **outer})
        return getattr(optim, self.name)(params, **{**self.kwargs, **override})

    def make_torch(self, torch, params, **override):
        return getattr(torch.optim, self.torch)(params, **{**self.kwargs, **override})


C = OptConfig
CONFIGS = [
    # ---------------------------------------------------------------- SGD family (torch.optim.SGD)
    C("sgd", "SGD", dict(lr=0.015), torch="SGD", quad_budget=500, rosen_kwargs=dict(lr=2e-3), rosen_budget=7500),
    C("sgd-momentum", "SGD", dict(lr=0.01, momentum=0.9), torch="SGD", quad_budget=250,
      rosen_kwargs=dict(lr=1e-3), rosen_budget=1500),
    C("sgd-dampening", "SGD", dict(lr=0.01, momentum=0.9, dampening=0.5), torch="SGD", quad_budget=250,
      rosen_kwargs=dict(lr=1e-3), rosen_budget=3000),
    C("sgd-nesterov", "SGD", dict(lr=0.01, momentum=0.9, nesterov=True), torch="SGD", quad_budget=200,
      rosen_kwargs=dict(lr=1e-3), rosen_budget=1500),
    C("sgd-weight-decay", "SGD", dict(lr=0.01, momentum=0.5, weight_decay=1e-3), torch="SGD",
      quad_budget=None, rosen_budget=None),
    C("sgd-nesterov-wd-maximize", "SGD", dict(lr=1e-4, momentum=0.8, nesterov=True, weight_decay=1e-2,
                                               maximize=True), torch="SGD", quad_budget=None, rosen_budget=None),
    C("sgdw", "SGDW", dict(lr=0.01, momentum=0.9, weight_decay=1e-2), reference="sgdw", quad_budget=None,
      rosen_budget=None),
    C("sgdw-nesterov", "SGDW", dict(lr=0.01, momentum=0.9, weight_decay=1e-2, nesterov=True),
      reference="sgdw", quad_budget=None, rosen_budget=None),
    C("sgdw-dampening", "SGDW", dict(lr=0.01, momentum=0.9, dampening=0.3, weight_decay=1e-1),
      reference="sgdw", quad_budget=None, rosen_budget=None),
    C("sgdw-converge", "SGDW", dict(lr=0.01, momentum=0.9, weight_decay=0.0), reference="sgdw", quad_budget=250,
      rosen_kwargs=dict(lr=1e-3), rosen_budget=1500),
    # ---------------------------------------------------------------- Adagrad
    C("adagrad", "Adagrad", dict(lr=0.5), torch="Adagrad", quad_budget=3000, rosen_budget=8000),
    C("adagrad-lr-decay", "Adagrad", dict(lr=0.5, lr_decay=1e-3), torch="Adagrad", quad_budget=None,
      rosen_budget=None),
    C("adagrad-wd-init-eps", "Adagrad", dict(lr=0.3, weight_decay=1e-2, initial_accumulator_value=0.1, eps=1e-7),
      torch="Adagrad", quad_budget=None, rosen_budget=None),
    # ---------------------------------------------------------------- RMSprop
    # plain RMSProp ends in an oscillation of amplitude ~lr around the minimum (the step
    # g/√s stays O(1) as g → 0), so on the quadratic it is held to 1e-5, not 1e-8
    C("rmsprop", "RMSprop", dict(lr=0.01), torch="RMSprop", quad_budget=1500, quad_tol=1e-5,
      rosen_kwargs=dict(lr=1e-3), rosen_budget=8000),
    C("rmsprop-centered", "RMSprop", dict(lr=0.01, centered=True), torch="RMSprop", quad_budget=3500, quad_lr=1e-3,
      rosen_kwargs=dict(lr=1e-3), rosen_budget=6500),
    C("rmsprop-momentum", "RMSprop", dict(lr=0.003, momentum=0.5), torch="RMSprop", quad_budget=2000,
      rosen_kwargs=dict(lr=1e-3), rosen_budget=3500),
    C("rmsprop-centered-momentum-wd", "RMSprop", dict(lr=0.003, alpha=0.9, centered=True, momentum=0.9,
                                                       weight_decay=1e-2, eps=1e-6), torch="RMSprop",
      quad_budget=None, rosen_budget=None),
    # ---------------------------------------------------------------- Adam family
    C("adam", "Adam", dict(lr=0.05), torch="Adam", quad_budget=2000, rosen_budget=2000),
    C("adam-amsgrad", "Adam", dict(lr=0.05, amsgrad=True), torch="Adam", quad_budget=2500,
      rosen_kwargs=dict(lr=0.02), rosen_budget=6500),
    C("adam-weight-decay", "Adam", dict(lr=0.05, weight_decay=1e-2), torch="Adam", quad_budget=None,
      rosen_budget=None),
    C("adam-amsgrad-wd-betas", "Adam", dict(lr=0.02, betas=(0.8, 0.99), weight_decay=1e-2, amsgrad=True,
                                            eps=1e-6), torch="Adam", quad_budget=None, rosen_budget=None),
    C("adam-decoupled", "Adam", dict(lr=0.05, weight_decay=1e-2, decoupled_weight_decay=True), torch="Adam",
      quad_budget=None, rosen_budget=None),
    C("adamw", "AdamW", dict(lr=0.05), torch="AdamW", quad_budget=None, rosen_budget=None),
    C("adamw-amsgrad", "AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True), torch="AdamW", quad_budget=None,
      rosen_budget=None),
    C("adamw-converge", "AdamW", dict(lr=0.05, weight_decay=0.0), torch="AdamW", quad_budget=2000,
      rosen_budget=2000),
    C("nadam", "NAdam", dict(lr=0.05), torch="NAdam", quad_budget=2000, rosen_kwargs=dict(lr=0.005),
      rosen_budget=7500),
    C("nadam-wd-momentum-decay", "NAdam", dict(lr=0.02, weight_decay=1e-2, momentum_decay=1e-2), torch="NAdam",
      quad_budget=None, rosen_budget=None),
    C("nadam-decoupled", "NAdam", dict(lr=0.02, weight_decay=1e-2, decoupled_weight_decay=True), torch="NAdam",
      quad_budget=None, rosen_budget=None),
    C("radam", "RAdam", dict(lr=0.05), torch="RAdam", quad_budget=4500, rosen_kwargs=dict(lr=3e-3),
      rosen_budget=12000),
    C("radam-weight-decay", "RAdam", dict(lr=0.02, weight_decay=1e-2), torch="RAdam", quad_budget=None,
      rosen_budget=None),
    C("radam-decoupled", "RAdam", dict(lr=0.02, weight_decay=1e-2, decoupled_weight_decay=True), torch="RAdam",
      quad_budget=None, rosen_budget=None),
    # ---------------------------------------------------------------- beyond torch (reference formulas)
    C("adabound", "AdaBound", dict(lr=0.02, final_lr=0.01), reference="adabound", quad_budget=2000,
      rosen_kwargs=dict(final_lr=0.002), rosen_budget=6000),
    C("adabound-wd", "AdaBound", dict(lr=0.02, final_lr=0.05, gamma=1e-2, weight_decay=1e-2),
      reference="adabound", quad_budget=None, rosen_budget=None),
    C("amsbound", "AMSBound", dict(lr=0.02, final_lr=0.01), reference="adabound", quad_budget=2000,
      rosen_kwargs=dict(final_lr=0.002), rosen_budget=7500),
    C("swats", "SWATS", dict(lr=0.05), reference="swats", quad_budget=2000, rosen_kwargs=dict(lr=0.02),
      rosen_budget=3500),
    C("lookahead-sgd", "Lookahead", dict(k=5, alpha=0.5), inner=("SGD", dict(lr=0.015, momentum=0.5)),
      reference="lookahead", quad_budget=600, rosen_kwargs=dict(lr=3e-3), rosen_budget=5000),
    C("lookahead-adam", "Lookahead", dict(k=6, alpha=0.8), inner=("Adam", dict(lr=0.05)), reference="lookahead",
      quad_budget=2500, rosen_budget=2500),
]

BY_ID = {c.id: c for c in CONFIGS}
TORCH_CONFIGS = [c for c in CONFIGS if c.torch]
REFERENCE_CONFIGS = [c for c in CONFIGS if c.reference]
QUAD_CONFIGS = [c for c in CONFIGS if c.quad_budget]
ROSEN_CONFIGS = [c for c in CONFIGS if c.rosen_budget]
