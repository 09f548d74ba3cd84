"""Keras-style layers with an explicit forward/backward pair (batch-major ``(N, T, D)``)."""

from rnnlab.layers.base import Layer
from rnnlab.layers.bidirectional import Bidirectional
from rnnlab.layers.gru import GRU
from rnnlab.layers.lstm import LSTM
from rnnlab.layers.recurrent import Recurrent
from rnnlab.layers.simple_rnn import SimpleRNN
from rnnlab.layers.streaming import SequentialStepper, Stepper

__all__ = ["GRU", "LSTM", "Bidirectional", "Layer", "Recurrent", "SequentialStepper", "SimpleRNN", "Stepper"]
