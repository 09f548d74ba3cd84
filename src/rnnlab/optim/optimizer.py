r"""The optimizer base class: everything the four optimizers share.

``Optimizer.step(params, grads)`` updates the arrays of ``params`` in place, in this order, as a
PyTorch loop of ``clip_grad_norm_`` / ``clip_grad_value_``, then ``optimizer.step()``, then
``scheduler.step()`` does::

    norms      = per-array L2 norms of grads            -> last_param_norms, last_grad_norm
    grads      = clip_by_global_norm(grads, clipnorm)    if clipnorm is set
    grads      = clip_by_value(grads, clipvalue)         if clipvalue is set
                                                         -> last_clipped_norm
    lr         = lr(iterations)                          a float, or a schedule's value
    iterations = iterations + 1                          ``t`` in the update rules
    g          = g + weight_decay * p                    L2 penalty (torch's coupled weight_decay)
    p          = p - (the optimizer's update of g)       per array, see each subclass

Subclasses write only ``_update(name, p, g, lr, t)`` for one array, and keep their per-parameter
state ("slots", named as in ``torch.optim``: ``exp_avg``, ``momentum_buffer`` ...) in
``self.slots[slot][param_name]``. Nothing is hidden elsewhere: ``state_dict()`` returns the slots
and the step counter, ``load_state_dict`` puts them back, and a run continued from a checkpoint
gives the same weights as an uninterrupted run, bit for bit.

Parameters and gradients are ``dict[str, np.ndarray]`` with the same keys and shapes; float32 or
float64 (the state takes each parameter's dtype). The caller's gradient arrays are never modified.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from rnnlab.optim import schedules
from rnnlab.optim.clipping import NORM_EPSILON, clip_by_global_norm, clip_by_value, combine_norms, param_norms
from rnnlab.optim.schedules import Schedule

__all__ = ["Optimizer", "check_number"]


def check_number(
    argument: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a float if it is a finite real number in the given interval, else ``ValueError``."""
    lo = "" if low is None else f"{'(' if low_open else '['}{low}"
    hi = "" if high is None else f"{high}{')' if high_open else ']'}"
    if low is not None and high is not None:
        wanted = f"a number in {lo}, {hi}"
    elif low is not None:
        wanted = f"a number {'>' if low_open else '>='} {low}"
    elif high is not None:
        wanted = f"a number {'<' if high_open else '<='} {high}"
    else:
        wanted = "a finite number"
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise ValueError(f"{argument} must be {wanted}, got {value!r}")
    return float(value)


def _check_lr(lr: Any) -> float | Schedule:
    if isinstance(lr, Schedule):
        return lr
    if isinstance(lr, dict):
        return schedules.get(lr)
    if callable(lr):
        raise TypeError(
            "lr must be a number or an rnnlab.optim.schedules.Schedule (a plain function cannot be saved "
            f"in a config), got {type(lr).__name__}"
        )
    return check_number("lr", lr, low=0.0, low_open=True)


class Optimizer:
    """Base class. Arguments shared by every optimizer:

    Args:
        lr: learning rate, a number > 0 or a ``Schedule`` evaluated at ``iterations``.
        weight_decay: L2 penalty ``wd`` added to the gradient as ``g + wd * p`` (torch's
            ``weight_decay``, not decoupled AdamW decay), >= 0.
        clipvalue: clip every gradient entry to ``[-clipvalue, clipvalue]`` before the update.
        clipnorm: rescale all gradients together to a global norm of at most ``clipnorm``
            (``torch.nn.utils.clip_grad_norm_``; unlike Keras' per-array ``clipnorm``).

    Attributes:
        iterations: number of updates done so far.
        slots: per-parameter state, ``slots[slot_name][param_name] -> array``.
        last_grad_norm: global norm of the gradients of the last step, before clipping.
        last_clipped_norm: the same after clipping (equal when nothing was clipped).
        last_param_norms: per-array norms of the last step's gradients, before clipping.
        last_clipped_param_norms: the same after clipping.
    """

    def __init__(
        self,
        lr: float | Schedule,
        *,
        weight_decay: float = 0.0,
        clipvalue: float | None = None,
        clipnorm: float | None = None,
    ) -> None:
        self.lr = _check_lr(lr)
        self.weight_decay = check_number("weight_decay", weight_decay, low=0.0)
        self.clipvalue = None if clipvalue is None else check_number("clipvalue", clipvalue, low=0.0, low_open=True)
        self.clipnorm = None if clipnorm is None else check_number("clipnorm", clipnorm, low=0.0, low_open=True)
        self.iterations = 0
        self.slots: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in self.slot_names}
        self.last_grad_norm: float | None = None
        self.last_clipped_norm: float | None = None
        self.last_param_norms: dict[str, float] = {}
        self.last_clipped_param_norms: dict[str, float] = {}

    # -- what subclasses provide ------------------------------------------------------------

    @property
    def slot_names(self) -> tuple[str, ...]:
        """Names of the per-parameter state arrays this optimizer keeps (with its options)."""
        return ()

    def _update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float, t: int) -> None:
        """Update parameter ``p`` in place from its (clipped, decayed) gradient ``g``; ``t`` >= 1."""
        raise NotImplementedError

    def _config(self) -> dict[str, Any]:
        """The subclass' own constructor arguments."""
        return {}

    # -- the update -----------------------------------------------------------------------------

    def current_lr(self) -> float:
        """The learning rate the next ``step`` will use."""
        return self.lr.lr_at(self.iterations) if isinstance(self.lr, Schedule) else self.lr

    def step(self, params: dict[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        """Clip ``grads``, then update every array of ``params`` in place."""
        _check_params_grads(params, grads)
        self._check_state(params)
        norms = param_norms(grads)
        total = combine_norms(norms.values())
        clipped: Mapping[str, np.ndarray] = grads
        clipped_norms = norms
        if self.clipnorm is not None:
            clipped, _ = clip_by_global_norm(dict(clipped), self.clipnorm, norm=total)
            coef = min(1.0, self.clipnorm / (total + NORM_EPSILON))  # every array scaled by the same factor
            clipped_norms = {name: n * coef for name, n in norms.items()}
        if self.clipvalue is not None:
            clipped = clip_by_value(dict(clipped), self.clipvalue)
            clipped_norms = param_norms(dict(clipped))
        self.last_param_norms = norms
        self.last_clipped_param_norms = clipped_norms
        self.last_grad_norm = total
        self.last_clipped_norm = combine_norms(self.last_clipped_param_norms.values())

        lr = self.current_lr()
        self.iterations += 1
        for name, p in params.items():
            g = clipped[name].astype(p.dtype, copy=False)
            if self.weight_decay != 0.0:
                g = g + self.weight_decay * p
            self._update(name, p, g, lr, self.iterations)

    def _check_state(self, params: Mapping[str, np.ndarray]) -> None:
        """Before touching anything: state arrays must fit their parameters (a checkpoint of another
        model fails here, not halfway through an update); their dtype follows the parameter's."""
        for slot, table in self.slots.items():
            for name, a in table.items():
                p = params.get(name)
                if p is None:
                    continue
                if a.shape != p.shape:
                    raise ValueError(
                        f"optimizer state '{slot}/{name}' has shape {a.shape} but parameter {name!r} has shape "
                        f"{p.shape}; was the state loaded from another model?"
                    )
                if a.dtype != p.dtype:
                    table[name] = a.astype(p.dtype)

    def _slot(self, slot: str, name: str, p: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """The state array ``slot`` of parameter ``name``, created as ``fill`` on first use."""
        table = self.slots[slot]
        a = table.get(name)
        if a is None:
            a = table[name] = np.full_like(p, fill)
        return a

    # -- state and config -----------------------------------------------------------------------

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``(arrays, meta)``: copies of the slots as ``"<slot>/<param>"`` arrays, and a JSON-able
        ``meta`` with ``class_name``, ``config`` and ``iterations``."""
        arrays = {f"{slot}/{name}": a.copy() for slot, table in self.slots.items() for name, a in table.items()}
        meta = {"class_name": type(self).__name__, "config": self.get_config(), "iterations": self.iterations}
        return arrays, meta

    def load_state_dict(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        """Restore the slots and the step counter saved by ``state_dict``.

        The hyper-parameters stay this optimizer's own; to restore them too, build the optimizer
        with ``rnnlab.optim.restore(arrays, meta)`` (or ``from_config(meta["config"])``).
        """
        name = type(self).__name__
        if meta.get("class_name") != name:
            raise ValueError(f"state was saved by optimizer {meta.get('class_name')!r}, cannot load it into {name}")
        iterations = meta.get("iterations")
        if not isinstance(iterations, numbers.Integral) or isinstance(iterations, bool) or iterations < 0:
            raise ValueError(f"meta['iterations'] must be an integer >= 0, got {iterations!r}")
        slots: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in self.slot_names}
        for key, a in arrays.items():
            slot, sep, param = key.partition("/")
            if not sep or slot not in slots:
                raise ValueError(
                    f"unexpected optimizer state array {key!r}: {name} with these options keeps "
                    f"{list(self.slot_names)}, saved as '<slot>/<param name>'"
                )
            slots[slot][param] = np.array(a, copy=True)
        self.slots = slots
        self.iterations = int(iterations)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-able (a schedule as its ``serialize`` dict)."""
        lr = schedules.serialize(self.lr) if isinstance(self.lr, Schedule) else self.lr
        return {
            "lr": lr,
            **self._config(),
            "weight_decay": self.weight_decay,
            "clipvalue": self.clipvalue,
            "clipnorm": self.clipnorm,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Optimizer:
        """Build an optimizer from ``get_config()``."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _check_params_grads(params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
    if not isinstance(params, Mapping) or not isinstance(grads, Mapping):
        raise TypeError(
            f"params and grads must be dicts of arrays, got {type(params).__name__} and {type(grads).__name__}"
        )
    if params.keys() != grads.keys():
        missing = sorted(params.keys() - grads.keys())
        extra = sorted(grads.keys() - params.keys())
        raise ValueError(
            f"grads must have the same keys as params; missing gradients for {missing}, "
            f"gradients without a parameter: {extra}"
        )
    for name, p in params.items():
        g = grads[name]
        if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
            raise TypeError(f"parameter {name!r} must be a float numpy array, got {type(p).__name__}")
        if not p.flags.writeable:
            raise ValueError(f"parameter {name!r} is read-only; the optimizer updates parameters in place")
        if not isinstance(g, np.ndarray) or g.dtype.kind != "f":
            raise TypeError(f"gradient {name!r} must be a float numpy array, got {type(g).__name__}")
        if g.shape != p.shape:
            raise ValueError(f"gradient {name!r} has shape {g.shape}, expected the parameter's shape {p.shape}")
