"""The whole training step agrees with PyTorch: the same model, data order and optimizer give the same weights.

Embedding -> LSTM -> Dense with softmax cross-entropy averaged over the real steps (the notes'
sequence element classification), float64, right-padded variable lengths, 6 updates.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnlab.layers import LSTM  # noqa: E402
from rnnlab.layers.dense import Dense  # noqa: E402
from rnnlab.layers.embedding import Embedding  # noqa: E402
from rnnlab.models import Sequential  # noqa: E402
from rnnlab.optim import SGD, Adam  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

V, E, H, Q, N, T = 12, 5, 6, 4, 12, 7


class TorchTagger(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(V, E)
        self.lstm = torch.nn.LSTM(E, H, batch_first=True)
        self.out = torch.nn.Linear(H, Q)

    def forward(self, x):
        return self.out(self.lstm(self.emb(x))[0])


def make_data(rng):
    lengths = rng.integers(2, T + 1, N)
    x = np.zeros((N, T), np.int64)
    y = np.zeros((N, T), np.int64)
    for n, L in enumerate(lengths):
        x[n, :L] = rng.integers(1, V, L)
        y[n, :L] = rng.integers(0, Q, L)
    return x, y


@pytest.mark.parametrize("make_optimizers", [
    lambda: (SGD(0.5, momentum=0.9, nesterov=True, clipnorm=0.1),
             lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9, nesterov=True)),
    lambda: (Adam(0.05, clipnorm=0.1), lambda p: torch.optim.Adam(p, lr=0.05)),
], ids=["sgd-nesterov-clipnorm", "adam-clipnorm"])
def test_fit_reaches_the_same_weights_as_pytorch(make_optimizers):
    rng = np.random.default_rng(0)
    x, y = make_data(rng)
    ours_opt, torch_opt = make_optimizers()
    model = Sequential([Embedding(V, E, mask_zero=True, dtype="float64", seed=1),
                        LSTM(H, return_sequences=True, dtype="float64", seed=2),
                        Dense(Q, dtype="float64", seed=3)])
    model.compile(ours_opt, "sparse_categorical_crossentropy")
    model(x)  # build
    ref = TorchTagger().double()
    with torch.no_grad():
        p = model.params
        ref.emb.weight.copy_(torch.tensor(p["embedding/E"]))
        ref.lstm.weight_ih_l0.copy_(torch.tensor(p["lstm/W"].T))
        ref.lstm.weight_hh_l0.copy_(torch.tensor(p["lstm/W_R"].T))
        ref.lstm.bias_ih_l0.copy_(torch.tensor(p["lstm/b"]))
        ref.lstm.bias_hh_l0.zero_()
        ref.out.weight.copy_(torch.tensor(p["dense/W"].T))
        ref.out.bias.copy_(torch.tensor(p["dense/b"]))
    # rnnlab has one LSTM bias; PyTorch's second one would count the same gradient twice in the
    # global clipping norm, so it stays frozen at zero and the two models have the same parameters
    ref.lstm.bias_hh_l0.requires_grad_(False)
    opt = torch_opt([q for q in ref.parameters() if q.requires_grad])
    xt, yt, mt = torch.tensor(x), torch.tensor(y), torch.tensor(x != 0)
    for _epoch in range(2):
        for s in range(0, N, 4):
            logits = ref(xt[s:s + 4])
            nll = torch.nn.functional.cross_entropy(logits.reshape(-1, Q), yt[s:s + 4].reshape(-1), reduction="none")
            m = mt[s:s + 4].reshape(-1).double()
            loss = (nll * m).sum() / m.sum()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([q for q in ref.parameters() if q.requires_grad], 0.1)
            opt.step()
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert len(history.steps["loss"]) == 6
    p = model.params
    assert_close("embedding", p["embedding/E"], ref.emb.weight.detach().numpy(), 1e-6)
    assert_close("W", p["lstm/W"], ref.lstm.weight_ih_l0.detach().numpy().T, 1e-6)
    assert_close("W_R", p["lstm/W_R"], ref.lstm.weight_hh_l0.detach().numpy().T, 1e-6)
    torch_b = (ref.lstm.bias_ih_l0 + ref.lstm.bias_hh_l0).detach().numpy()
    assert_close("b", p["lstm/b"], torch_b, 1e-6)
    assert_close("dense W", p["dense/W"], ref.out.weight.detach().numpy().T, 1e-6)
    assert_close("dense b", p["dense/b"], ref.out.bias.detach().numpy(), 1e-6)
    assert history.steps["grad_norm"][0] > 0.1  # clipping was active: the pre-clip norm is recorded
    assert history.steps["clipped_norm"][0] == pytest.approx(0.1, rel=1e-5)
