r"""Learning-rate schedules: small frozen dataclasses mapping an update count to a learning rate.

``schedule.lr_at(k)`` (or ``schedule(k)``) is the learning rate of update ``k = 0, 1, 2, ...``; an
optimizer given a schedule asks it for ``lr_at(optimizer.iterations)`` before every update. The
counter is in updates (minibatches), not epochs: for a per-epoch schedule multiply the step
counts by the number of updates per epoch.

==================================  ===========================================  =====================
schedule                            lr_at(k)                                     torch counterpart
==================================  ===========================================  =====================
Constant(lr)                        lr                                           (no scheduler)
StepDecay(lr, step_size, gamma)     lr * gamma ** (k // step_size)                StepLR
ExponentialDecay(lr, gamma)         lr * gamma ** k                              ExponentialLR
CosineDecay(lr, total_steps,        min_lr + (lr - min_lr) (1 + cos(pi k / K))/2  CosineAnnealingLR
min_lr)                             for k <= K = total_steps, then min_lr         (T_max=K, eta_min)
Warmup(schedule, warmup_steps,      lr0 (s + (1 - s) k / W) for k < W, with       SequentialLR of
start_factor)                       lr0 = schedule(0), W = warmup_steps,          LinearLR and the
                                    s = start_factor; then schedule(k - W)       schedule, milestone W
==================================  ===========================================  =====================

Each value equals what ``optimizer.param_groups[0]["lr"]`` holds in PyTorch before the ``k``-th
``optimizer.step()`` when ``scheduler.step()`` follows every ``optimizer.step()``. One deliberate
difference: after ``total_steps`` ``CosineDecay`` stays at ``min_lr`` (like Keras' ``CosineDecay``),
where torch's ``CosineAnnealingLR`` climbs back up along the cosine.

Configs are JSON-able: ``serialize(s) == {"class_name": "CosineDecay", "config": {...}}`` and
``get`` turns such a dict (or a number, meaning ``Constant``) back into a schedule.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "Constant",
    "CosineDecay",
    "ExponentialDecay",
    "Schedule",
    "StepDecay",
    "Warmup",
    "constant",
    "cosine_decay",
    "exponential_decay",
    "get",
    "serialize",
    "step_decay",
    "warmup",
]


def _check_positive(argument: str, value: float) -> None:
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{argument} must be a finite number > 0, got {value!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_integer(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    """NumPy scalars as Python numbers, so configs stay JSON-able."""
    if _is_integer(value):
        return int(value)
    if _is_number(value):
        return float(value)
    return value


def _check_steps(argument: str, value: int, minimum: int = 1) -> None:
    if not _is_integer(value) or value < minimum:
        raise ValueError(f"{argument} must be an integer >= {minimum}, got {value!r}")


class Schedule:
    """Base class: subclasses are frozen dataclasses implementing ``_lr(step)``."""

    registry: ClassVar[dict[str, type[Schedule]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Schedule.registry[cls.__name__] = cls

    def _lr(self, step: int) -> float:
        raise NotImplementedError

    def lr_at(self, step: int) -> float:
        """The learning rate of update ``step`` (0 for the first update)."""
        if not _is_integer(step) or step < 0:
            raise ValueError(f"step must be an integer >= 0, got {step!r}")
        return float(self._lr(int(step)))

    def __call__(self, step: int) -> float:
        return self.lr_at(step)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-able."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Schedule:
        """Rebuild the schedule from ``get_config()``."""
        return cls(**config)


@dataclass(frozen=True)
class Constant(Schedule):
    """``lr`` at every update."""

    lr: float

    def __post_init__(self) -> None:
        _check_positive("lr", self.lr)

    def _lr(self, step: int) -> float:
        return self.lr


@dataclass(frozen=True)
class StepDecay(Schedule):
    """``lr * gamma ** (step // step_size)``: multiply by ``gamma`` every ``step_size`` updates."""

    lr: float
    step_size: int
    gamma: float = 0.1  # torch StepLR's default

    def __post_init__(self) -> None:
        _check_positive("lr", self.lr)
        _check_steps("step_size", self.step_size)
        _check_positive("gamma", self.gamma)

    def _lr(self, step: int) -> float:
        return self.lr * self.gamma ** (step // self.step_size)


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """``lr * gamma ** step``: multiply by ``gamma`` after every update."""

    lr: float
    gamma: float

    def __post_init__(self) -> None:
        _check_positive("lr", self.lr)
        _check_positive("gamma", self.gamma)

    def _lr(self, step: int) -> float:
        return self.lr * self.gamma**step


@dataclass(frozen=True)
class CosineDecay(Schedule):
    """Half a cosine from ``lr`` at step 0 down to ``min_lr`` at ``total_steps``, then ``min_lr``."""

    lr: float
    total_steps: int
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        _check_positive("lr", self.lr)
        _check_steps("total_steps", self.total_steps)
        if not _is_number(self.min_lr) or not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"min_lr must be a number in [0, lr = {self.lr}], got {self.min_lr!r}")

    def _lr(self, step: int) -> float:
        k = min(step, self.total_steps)
        return self.min_lr + (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * k / self.total_steps)) / 2.0


@dataclass(frozen=True)
class Warmup(Schedule):
    """Linear warm-up over ``warmup_steps`` updates from ``start_factor * lr0`` towards
    ``lr0 = schedule.lr_at(0)``, then ``schedule`` started afresh (``schedule(step - warmup_steps)``).
    """

    schedule: Schedule
    warmup_steps: int
    start_factor: float = 1.0 / 3.0  # torch LinearLR's default

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, Schedule):
            raise TypeError(f"schedule must be a Schedule, got {type(self.schedule).__name__}")
        _check_steps("warmup_steps", self.warmup_steps)
        if not _is_number(self.start_factor) or not 0 < self.start_factor <= 1:
            raise ValueError(f"start_factor must be a number in (0, 1], got {self.start_factor!r}")

    def _lr(self, step: int) -> float:
        if step >= self.warmup_steps:
            return self.schedule.lr_at(step - self.warmup_steps)
        s = self.start_factor
        return self.schedule.lr_at(0) * (s + (1.0 - s) * step / self.warmup_steps)

    def get_config(self) -> dict[str, Any]:
        return {
            "schedule": serialize(self.schedule),
            "warmup_steps": self.warmup_steps,
            "start_factor": self.start_factor,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Warmup:
        return cls(**{**config, "schedule": get(config["schedule"])})


def constant(lr: float) -> Constant:
    """``Constant(lr)``."""
    return Constant(lr)


def step_decay(lr: float, step_size: int, gamma: float = 0.1) -> StepDecay:
    """``StepDecay(lr, step_size, gamma)``."""
    return StepDecay(lr, step_size, gamma)


def exponential_decay(lr: float, gamma: float) -> ExponentialDecay:
    """``ExponentialDecay(lr, gamma)``."""
    return ExponentialDecay(lr, gamma)


def cosine_decay(lr: float, total_steps: int, min_lr: float = 0.0) -> CosineDecay:
    """``CosineDecay(lr, total_steps, min_lr)``."""
    return CosineDecay(lr, total_steps, min_lr)


def warmup(schedule: Schedule, warmup_steps: int, start_factor: float = 1.0 / 3.0) -> Warmup:
    """``Warmup(schedule, warmup_steps, start_factor)``."""
    return Warmup(schedule, warmup_steps, start_factor)


def serialize(schedule: Schedule) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}``, JSON-able; ``get`` reverses it."""
    if not isinstance(schedule, Schedule):
        raise TypeError(f"expected a Schedule, got {type(schedule).__name__}")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def get(identifier: Schedule | dict[str, Any] | float) -> Schedule:
    """A schedule from a ``Schedule`` (returned as is), a ``serialize`` dict, or a number (``Constant``)."""
    if isinstance(identifier, Schedule):
        return identifier
    if _is_number(identifier):
        return Constant(float(identifier))
    if isinstance(identifier, dict) and set(identifier) == {"class_name", "config"}:
        name = identifier["class_name"]
        if name not in Schedule.registry:
            raise ValueError(
                f"unknown schedule class_name {name!r}; expected one of {', '.join(sorted(Schedule.registry))}"
            )
        return Schedule.registry[name].from_config(dict(identifier["config"]))
    raise ValueError(
        "a learning-rate schedule must be a Schedule, a number, or a dict "
        f"{{'class_name': ..., 'config': ...}}, got {identifier!r}"
    )
