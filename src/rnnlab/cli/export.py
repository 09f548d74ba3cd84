"""``rnnlab export MODEL OUT.onnx``: a saved model as an ONNX file, for any ONNX runtime.

The recurrent layers become ONNX's ``RNN``/``LSTM``/``GRU`` operators; the graph takes ``x``
(features, or token ids for a model that starts with an embedding) and, with ``--lengths``, the
real length of each right-padded sequence. See ``rnnlab.interop.onnx``.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

import rnnlab
from rnnlab.interop.onnx import OPSET, graph_dtype, io_names, to_onnx


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a saved model as an ONNX file", description=__doc__)
    p.add_argument("model", help="a model file written by rnnlab train")
    p.add_argument("out", help="the ONNX file to write (replaced atomically)")
    p.add_argument("--lengths", action="store_true", help="add a graph input 'lengths' (N,) int64 for padded batches")
    p.add_argument("--states", action="store_true",
                   help="carry the recurrent state between calls: inputs h0_<layer> [c0_<layer>], outputs "
                        "h_<layer> [c_<layer>] (streaming, generation; layers must read left to right)")
    p.add_argument("--float32", action="store_true",
                   help="export a float64 model in float32 (ONNX Runtime's RNN/LSTM/GRU kernels take float32 only)")
    p.add_argument("--json", action="store_true", help="print one JSON object describing the export as the last line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    model = rnnlab.load_model(args.model)
    to_onnx(model, args.out, lengths=args.lengths, states=args.states, dtype="float32" if args.float32 else None)
    inputs, outputs = io_names(model, lengths=args.lengths, states=args.states)
    if not args.float32 and graph_dtype(model) == np.float64:
        print("note: the graph is float64; ONNX Runtime's CPU RNN/LSTM/GRU kernels take float32 only "
              "(export with --float32 for it)", file=sys.stderr)
    print(f"wrote {args.out}: ONNX opset {OPSET}, inputs {', '.join(inputs)}, outputs {', '.join(outputs)} "
          f"({len(model.layers)} layers, {model.count_params():,} parameters)")
    if args.json:
        print(json.dumps({"out": str(args.out), "opset": OPSET, "inputs": inputs, "outputs": outputs}))
    return 0
