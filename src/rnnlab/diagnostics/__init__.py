"""Seeing vanishing and exploding gradients happen: gradient flow, gate statistics, the chain, clipping.

==============  ===============================================================================
module          what lives there
==============  ===============================================================================
gradflow        ``gradient_flow(model, x, y)``: ``||dL/dH_t||`` (or ``||dL_T/dH_t||``) for every
                step and recurrent layer, exact, from the library's own BPTT
gates           ``gate_statistics(model, x)``: mean and saturation of every LSTM/GRU gate over time
chain           ``chain`` / ``chain_sweep``: the fourth note's ``da_L/dw_1`` product over depth
monitor         ``fit_monitored``: training that logs each parameter's gradient norm before and
                after clipping, and stops cleanly when a run diverges
==============  ===============================================================================

Everything runs on the reference NumPy cells of ``rnnlab.cells`` (their ``dh_record`` and caches),
whatever backend the layers train with. Plots of all of it live in ``rnnlab.plots``; the
``rnnlab gradflow`` command puts it together on the adding problem.

Shapes: ``N`` batch, ``T`` time, ``D`` input features, ``H`` units.
"""

from rnnlab.diagnostics.chain import Chain, ChainSweep, chain, chain_output, chain_sweep
from rnnlab.diagnostics.gates import GateStats, gate_statistics, gates_from_cache
from rnnlab.diagnostics.gradflow import GradientFlow, gradient_flow, layer_gradient_flow
from rnnlab.diagnostics.monitor import clipped_grads, first_divergence, fit_monitored

__all__ = [
    "Chain",
    "ChainSweep",
    "GateStats",
    "GradientFlow",
    "chain",
    "chain_output",
    "chain_sweep",
    "clipped_grads",
    "first_divergence",
    "fit_monitored",
    "gate_statistics",
    "gates_from_cache",
    "gradient_flow",
    "layer_gradient_flow",
]
