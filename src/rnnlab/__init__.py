"""rnnlab: Elman RNN, LSTM and GRU layers with hand-derived backpropagation through time."""

__version__ = "0.1.0"
