"""PyTorch parity: outputs, final states, input, state and parameter gradients to 1e-10 (float64).

Every configuration is run twice: a torch module converted with ``from_torch``, and an rnnlab stack
converted with ``to_torch``. The loss is ``sum(y * dy) + sum(h_n * dh_n) [+ sum(c_n * dc_n)]`` with the
same random upstream gradients on both sides.
"""

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnlab.interop.torch import TorchStyleRNN, from_torch, to_torch  # noqa: E402
from rnnlab.layers import GRU, LSTM, Bidirectional, SimpleRNN  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

TOL = 1e-10
KINDS = {
    "rnn_tanh": (torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (torch.nn.LSTM, {}),
    "gru": (torch.nn.GRU, {}),
}
CONFIGS = list(itertools.product(KINDS, [1, 2], [False, True], [False, True], [False, True]))


def torch_reference(module, x, init, lengths, dy, dstate):
    """Run ``module`` with autograd; returns outputs, states, dx, dinit and parameter grads."""
    _, T, _ = x.shape
    xt = torch.tensor(x, requires_grad=True)
    init_t = None if init is None else tuple(torch.tensor(s, requires_grad=True) for s in init)
    inp = xt if module.batch_first else xt.transpose(0, 1)
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(
            inp, torch.tensor(lengths), batch_first=module.batch_first, enforce_sorted=False
        )
    hx = None if init_t is None else (init_t if len(init_t) == 2 else init_t[0])
    y, st = module(inp, hx)
    if lengths is not None:
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, batch_first=module.batch_first, total_length=T)
    states = st if isinstance(st, tuple) else (st,)
    loss = (y * torch.tensor(dy)).sum() + sum((s * torch.tensor(d)).sum() for s, d in zip(states, dstate, strict=True))
    loss.backward()
    return dict(
        y=y.detach().numpy(),
        states=[s.detach().numpy() for s in states],
        dx=xt.grad.numpy(),
        dinit=None if init_t is None else [s.grad.numpy() for s in init_t],
        grads={n: p.grad.numpy() for n, p in module.named_parameters()},
    )


def compare(ours: TorchStyleRNN, module, x, init, lengths, rng, label):
    N, T, _ = x.shape
    S = 2 if ours.kind == "lstm" else 1
    y_shape = (N, T) if module.batch_first else (T, N)
    dy = rng.normal(size=(*y_shape, module.hidden_size * (2 if module.bidirectional else 1)))
    dstate = [
        rng.normal(size=(module.num_layers * (2 if module.bidirectional else 1), N, module.hidden_size))
        for _ in range(S)
    ]
    ref = torch_reference(module, x, init, lengths, dy, dstate)
    xin = x if module.batch_first else x.transpose(1, 0, 2)
    init_in = None if init is None else (tuple(init) if S == 2 else init[0])
    (y, st), cache = ours.forward(xin, initial_state=init_in, lengths=lengths)
    states = st if S == 2 else (st,)
    dx, dinit = ours.backward((dy, tuple(dstate) if S == 2 else dstate[0]), cache)
    assert_close(f"{label} y", y, ref["y"], TOL)
    for s, r in zip(states, ref["states"], strict=True):
        assert_close(f"{label} final state", s, r, TOL)
    assert_close(f"{label} dx", dx if module.batch_first else dx.transpose(1, 0, 2), ref["dx"], TOL)
    if init is not None:
        for d, r in zip(dinit if S == 2 else (dinit,), ref["dinit"], strict=True):
            assert_close(f"{label} dinitial_state", d, r, TOL)
    grads = ours.grads
    for name, g in ref["grads"].items():
        kind, which, layer = name.split("_", 2)  # weight_ih_l0_reverse -> weight, ih, l0_reverse
        if kind == "weight":
            ours_g = grads[f"{layer}/{'W' if which == 'ih' else 'W_R'}"].T
        elif ours.kind == "gru":
            ours_g = grads[f"{layer}/{'b' if which == 'ih' else 'b_R'}"]
        else:  # PyTorch's two biases are one sum: both get rnnlab's db
            ours_g = grads[f"{layer}/b"]
        assert_close(f"{label} d{name}", ours_g, g, TOL)


@pytest.mark.parametrize(
    "kind, layers, bidirectional, with_init, with_lengths", CONFIGS, ids=["-".join(map(str, c)) for c in CONFIGS]
)
def test_parity_with_pytorch_autograd(kind, layers, bidirectional, with_init, with_lengths):
    seed = CONFIGS.index((kind, layers, bidirectional, with_init, with_lengths))
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    N, T, D, H = (int(v) for v in rng.integers([1, 1, 1, 1], [5, 8, 6, 6]))
    cls, kw = KINDS[kind]
    batch_first = bool(rng.integers(2))
    module = cls(D, H, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first, **kw).double()
    with torch.no_grad():  # larger weights than PyTorch's default, to exercise the nonlinearities
        for p in module.parameters():
            p.mul_(2.0)
    x = rng.normal(size=(N, T, D))
    dirs = 2 if bidirectional else 1
    S = 2 if kind == "lstm" else 1
    init = [rng.normal(size=(layers * dirs, N, H)) for _ in range(S)] if with_init else None
    lengths = None
    if with_lengths:
        lengths = rng.integers(1, T + 1, size=N)
        lengths[rng.integers(N)] = T  # pad_packed_sequence needs one full-length row for total_length
    # torch -> rnnlab
    compare(from_torch(module), module, x, init, lengths, rng, "from_torch")
    # rnnlab -> torch: a fresh rnnlab stack with its own weights, converted the other way
    ours = from_torch(cls(D, H, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first, **kw).double())
    for layer in ours.layers:
        for lay in [layer.forward_layer, layer.backward_layer] if isinstance(layer, Bidirectional) else [layer]:
            lay.params = {k: v + rng.normal(0, 0.3, v.shape) for k, v in lay.params.items()}
    compare(ours, to_torch(ours), x, init, lengths, rng, "to_torch")


def test_single_layers_convert_with_batch_first():
    for layer in (
        SimpleRNN(4, input_dim=3, activation="relu"),
        LSTM(4, input_dim=3),
        GRU(4, input_dim=3, reset_after=True),
        Bidirectional(LSTM(4, input_dim=3, return_sequences=True)),
    ):
        module = to_torch(layer)
        assert module.batch_first
        x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
        y, _ = module(torch.tensor(x))
        ours = (
            layer(x)
            if isinstance(layer, Bidirectional)
            else type(layer)(**{**layer.get_config(), "return_sequences": True})
        )
        if not isinstance(layer, Bidirectional):
            ours.params = layer.params
            ours = ours(x)
        np.testing.assert_allclose(y.detach().numpy(), ours, rtol=1e-5, atol=1e-6)


def test_refuses_what_pytorch_cannot_express():
    with pytest.raises(ValueError, match=r"notes' GRU \(reset_after=False\).*reset_after=True"):
        to_torch(GRU(3, input_dim=2))
    with pytest.raises(ValueError, match="recurrent_activation='sigmoid'"):
        to_torch(LSTM(3, input_dim=2, recurrent_activation="hard_sigmoid"))
    with pytest.raises(ValueError, match="'tanh' or 'relu'"):
        to_torch(SimpleRNN(3, input_dim=2, activation="sigmoid"))
    with pytest.raises(ValueError, match="merge_mode 'sum'"):
        to_torch(Bidirectional(LSTM(3, input_dim=2), merge_mode="sum"))
    with pytest.raises(ValueError, match="not built yet"):
        to_torch(LSTM(3))
    with pytest.raises(TypeError, match="torch.nn.RNN, LSTM or GRU"):
        from_torch(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="proj_size"):
        from_torch(torch.nn.LSTM(2, 4, proj_size=2))
