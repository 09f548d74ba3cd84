"""Models: ``Sequential`` (structure, files) and its training loop (``training``)."""

from rnnlab.models.sequential import LAYER_CLASSES, Sequential, load_model, register_layer
from rnnlab.models.training import EarlyStopping, History

__all__ = ["LAYER_CLASSES", "EarlyStopping", "History", "Sequential", "load_model", "register_layer"]
