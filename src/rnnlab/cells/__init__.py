"""The math of the three recurrent cells, as pure forward/backward pairs over a whole sequence.

Each module (``rnn``, ``lstm``, ``gru``) holds the lecture equations in its docstring and two
functions with one contract, time-major ``(T, N, .)``:

``forward(x, state, params, *, mask, rdrop, activation, recurrent_activation[, reset_after])``
    returns ``(out, final_state, cache)``.
``backward(dout, dstate, cache, *, truncate)``
    returns ``(dx, dinitial_state, grads)``, ``grads`` keyed like ``params``.

Nothing here keeps state between calls: everything the backward pass needs is in ``cache``.
The layers in ``rnnlab.layers`` add parameters, validation and the batch-major boundary.
"""

from rnnlab.cells import gru, lstm, rnn
from rnnlab.cells._common import cuts_here

CELLS = {"rnn": rnn, "lstm": lstm, "gru": gru}

__all__ = ["CELLS", "cuts_here", "gru", "lstm", "rnn"]
