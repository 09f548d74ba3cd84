"""Ways in and out of rnnlab: ``rnnlab.interop.torch`` (``from_torch``, ``to_torch``) and
``rnnlab.interop.onnx`` (``to_onnx``)."""
