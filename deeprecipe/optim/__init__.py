"""Optimizers, gradient transforms (regularizers, clipping, noise) and learning-rate schedules.

torch.optim-like: ``opt = Adam(model.parameters(), lr=1e-3)``; ``opt.zero_grad()``;
``loss.backward()``; ``opt.step()``.  Parameter groups carry their own hyperparameters
(e.g. no weight decay on biases: see ``weight_decay_groups``); ``group['lr']`` is the one
mutable lr that schedulers change; ``state_dict()`` / ``load_state_dict()`` round-trip
exactly.  Every update is a few whole-array in-place operations on one flat buffer per
group (see ``_executor.py``); each named optimizer is a chain of small update rules
(``rule.py``).  ``capturable=True`` (Adam, AdamW, SGD, SGDW; torch's option) keeps the step
counts, bias corrections and lr in device arrays so that a CUDA graph can replay the step
(``deeprecipe.train.cuda_graph``).

=====================  ==========================================  ======================
optimizer              paper                                        semantics of
=====================  ==========================================  ======================
SGD (momentum,         Robbins & Monro 1951; Polyak 1964;           torch.optim.SGD
 nesterov, lecture)     Sutskever et al. 2013
SGDW                   Loshchilov & Hutter 2019                     kozistr 4.1.0
Adagrad                Duchi et al. 2011                            torch.optim.Adagrad
RMSprop (centered,     Hinton 2012; Graves 2013                     torch.optim.RMSprop
 momentum, lecture)
Adam / AMSGrad         Kingma & Ba 2015; Reddi et al. 2018          torch.optim.Adam
AdamW                  Loshchilov & Hutter 2019                     torch.optim.AdamW
NAdam                  Dozat 2016                                   torch.optim.NAdam
RAdam                  Liu et al. 2020                              torch.optim.RAdam
AdaBound / AMSBound    Luo et al. 2019                              Luolc/AdaBound
SWATS                  Keskar & Socher 2017                         kozistr 4.1.0 (group-wise)
Lookahead(inner)       Zhang et al. 2019                            kozistr 4.1.0
=====================  ==========================================  ======================
"""
from ..registry import Registry
from .adabound import AdaBound, AMSBound
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .lookahead import Lookahead
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rule import Rule, Scale
from .sgd import SGD, SGDW
from .swats import SWATS
from .transforms import (
    Chain, ClipGradNorm, ClipGradValue, DecoupledWeightDecay, GradientNoise, GradientTransform, L1Penalty,
    L2Penalty, chain, clip_grad_norm_, clip_grad_value_, exclude_1d,
)
from . import lr_scheduler, schedules  # noqa: F401

#: The optimizer registry: name -> class taking ``(params, **hyperparameters)``.  Register
#: your own with ``OPTIMIZERS.register('name', MyOptimizer)``: ``fit(optimizer='name')``,
#: ``optim.create`` and ``deeprecipe train --optimizer name --opt key=value`` then know it.
OPTIMIZERS = Registry("optimizer", skip=("params",))
for _name, _cls in (("sgd", SGD), ("sgdw", SGDW), ("adagrad", Adagrad), ("rmsprop", RMSprop), ("adam", Adam),
                    ("adamw", AdamW), ("nadam", NAdam), ("radam", RAdam), ("adabound", AdaBound),
                    ("amsbound", AMSBound), ("swats", SWATS)):
    OPTIMIZERS.register(_name, _cls)


def get_optimizer(name: str):
    """The optimizer class for a name ('adam', 'SGD', 'adam_w', ...); a ``ValueError`` with
    the closest registered name otherwise."""
    return OPTIMIZERS.entry(name).factory


def create(spec: str, params, **hyperparameters) -> Optimizer:
    """Build an optimizer from a spec: ``create('adam', model.parameters(), lr=1e-3)`` or
    ``create('adabound:lr=1e-3,final_lr=0.1', params)`` (the spec's values win over the
    keyword arguments).  Unknown hyperparameter names raise ``ValueError`` listing the
    accepted ones."""
    return OPTIMIZERS.build(spec, params, **hyperparameters)


def weight_decay_groups(named_parameters, weight_decay: float, no_decay=None) -> list:
    """Split ``model.named_parameters()`` into two groups: with ``weight_decay`` and with 0.

    ``no_decay(name, param) -> bool`` picks the parameters without decay; by default the
    biases and normalization parameters, i.e. every parameter with fewer than 2 dimensions
    (the lecture's and most papers' convention).  Returns a list for any optimizer's
    ``params`` argument; an empty group is left out."""
    if no_decay is None:
        def no_decay(name, p):
            return p.ndim < 2
    decay, rest = [], []
    for item in named_parameters:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError("weight_decay_groups expects (name, parameter) pairs, e.g. model.named_parameters()")
        name, p = item
        (rest if no_decay(name, p) else decay).append(p)
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": weight_decay})
    if rest:
        groups.append({"params": rest, "weight_decay": 0.0})
    return groups


__all__ = [
    "Optimizer", "Rule", "Scale",
    "SGD", "SGDW", "Adagrad", "RMSprop", "Adam", "AdamW", "NAdam", "RAdam", "AdaBound", "AMSBound",
    "SWATS", "Lookahead", "GradientTransform", "L2Penalty", "L1Penalty", "DecoupledWeightDecay", "ClipGradNorm",
    "ClipGradValue", "GradientNoise", "Chain", "chain", "clip_grad_norm_", "clip_grad_value_", "exclude_1d",
    "lr_scheduler", "schedules", "OPTIMIZERS", "get_optimizer", "create", "weight_decay_groups",
]
