"""Optimizers, gradient clipping and learning-rate schedules.

==============  ===============================================================================
module          what lives there
==============  ===============================================================================
optimizer       ``Optimizer``: clipping, weight decay, learning rate, state_dict, config
sgd             ``SGD`` (momentum, Nesterov)         = ``torch.optim.SGD``
adam            ``Adam`` (AMSGrad)                   = ``torch.optim.Adam``
rmsprop         ``RMSprop`` (centered, momentum)     = ``torch.optim.RMSprop``
adagrad         ``Adagrad``                          = ``torch.optim.Adagrad``
clipping        ``clip_by_value``, ``clip_by_global_norm`` as pure functions
schedules       ``Constant``, ``StepDecay``, ``ExponentialDecay``, ``CosineDecay``, ``Warmup``
registry        ``get("adam")``, ``get(config)``, ``serialize``, ``restore(arrays, meta)``
==============  ===============================================================================

Usage::

    opt = Adam(lr=schedules.CosineDecay(1e-3, total_steps=10_000), clipnorm=1.0)
    for batch in batches:
        loss, grads = model.loss_and_grads(batch)      # dict[str, np.ndarray], like params
        opt.step(params, grads)                        # params updated in place
        log(loss, opt.last_grad_norm)
"""

from rnnlab.optim import schedules
from rnnlab.optim.adagrad import Adagrad
from rnnlab.optim.adam import Adam
from rnnlab.optim.clipping import clip_by_global_norm, clip_by_value, global_norm
from rnnlab.optim.optimizer import Optimizer
from rnnlab.optim.registry import get, names, restore, serialize
from rnnlab.optim.rmsprop import RMSprop
from rnnlab.optim.sgd import SGD

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "Optimizer",
    "RMSprop",
    "clip_by_global_norm",
    "clip_by_value",
    "get",
    "global_norm",
    "names",
    "restore",
    "schedules",
    "serialize",
]
