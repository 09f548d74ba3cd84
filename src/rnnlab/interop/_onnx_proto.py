"""The few ONNX protobuf messages an exported model needs, encoded by hand (no ``onnx`` dependency).

The protobuf wire format: every field is a key ``(field_number << 3) | wire_type`` followed by a
varint (wire type 0: ints, enums), a length and bytes (2: strings, bytes, nested messages), or four
little-endian bytes (5: float). Repeated scalars are written one key per element (proto2's
unpacked form, which every parser accepts). Field numbers are those of ``onnx/onnx.proto``:

=========================  ==================================================================
message                    fields written
=========================  ==================================================================
ModelProto                 ir_version 1, producer_name 2, producer_version 3, graph 7,
                           opset_import 8, metadata_props 14
OperatorSetIdProto         domain 1, version 2
GraphProto                 node 1, name 2, initializer 5, input 11, output 12
NodeProto                  input 1, output 2, name 3, op_type 4, attribute 5
AttributeProto             name 1, f 2, i 3, s 4, floats 7, ints 8, strings 9, type 20
TensorProto                dims 1, data_type 2, name 8, raw_data 9 (little-endian)
ValueInfoProto             name 1, type 2 -> TypeProto.tensor_type 1 -> elem_type 1, shape 2
                           -> TensorShapeProto.dim 1 -> dim_value 1 | dim_param 2
StringStringEntryProto     key 1, value 2
=========================  ==================================================================
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

# TensorProto.DataType
FLOAT, INT32, INT64, BOOL, DOUBLE = 1, 6, 7, 9, 11
DATA_TYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.int32): INT32, np.dtype(np.int64): INT64,
              np.dtype(np.bool_): BOOL, np.dtype(np.float64): DOUBLE}

# AttributeProto.AttributeType
_A_FLOAT, _A_INT, _A_STRING, _A_FLOATS, _A_INTS, _A_STRINGS = 1, 2, 3, 6, 7, 8

AttributeValue = int | float | str | Sequence[float] | Sequence[int] | Sequence[str]


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64: two's complement, ten bytes
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(int(value))


def _float(field: int, value: float) -> bytes:
    return _key(field, 5) + struct.pack("<f", value)


def _bytes(field: int, value: bytes) -> bytes:
    return _key(field, 2) + _varint(len(value)) + value


def _str(field: int, value: str) -> bytes:
    return _bytes(field, value.encode("utf-8"))


def tensor(name: str, array: np.ndarray) -> bytes:
    """A ``TensorProto`` holding ``array`` (its dtype must be in ``DATA_TYPES``)."""
    array = np.asarray(array)
    if array.dtype not in DATA_TYPES:
        raise TypeError(f"no ONNX tensor type for dtype {array.dtype}")
    raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return (b"".join(_int(1, d) for d in array.shape) + _int(2, DATA_TYPES[array.dtype]) + _str(8, name)
            + _bytes(9, raw))


def attribute(name: str, value: AttributeValue) -> bytes:
    """An ``AttributeProto``; its type follows the Python value (bool and int are INT)."""
    head = _str(1, name)
    if isinstance(value, bool | int | np.integer):
        return head + _int(3, int(value)) + _int(20, _A_INT)
    if isinstance(value, float | np.floating):
        return head + _float(2, float(value)) + _int(20, _A_FLOAT)
    if isinstance(value, str):
        return head + _str(4, value) + _int(20, _A_STRING)
    items = list(value)
    if items and all(isinstance(v, str) for v in items):
        return head + b"".join(_str(9, v) for v in items) + _int(20, _A_STRINGS)
    if items and all(isinstance(v, float) for v in items):
        return head + b"".join(_float(7, v) for v in items) + _int(20, _A_FLOATS)
    if items and all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        return head + b"".join(_int(8, v) for v in items) + _int(20, _A_INTS)
    raise TypeError(f"attribute {name}: cannot encode {value!r}")


def node(op_type: str, inputs: Sequence[str], outputs: Sequence[str], name: str,
         attributes: dict[str, AttributeValue]) -> bytes:
    """A ``NodeProto``; an empty input name marks an optional input left out."""
    return (b"".join(_str(1, i) for i in inputs) + b"".join(_str(2, o) for o in outputs) + _str(3, name)
            + _str(4, op_type) + b"".join(_bytes(5, attribute(k, v)) for k, v in attributes.items()))


def value_info(name: str, elem_type: int, shape: Sequence[int | str]) -> bytes:
    """A ``ValueInfoProto`` for a tensor; a ``str`` dimension is symbolic (``"batch"``)."""
    dims = b"".join(_bytes(1, _str(2, d) if isinstance(d, str) else _int(1, d)) for d in shape)
    tensor_type = _int(1, elem_type) + _bytes(2, dims)
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))


def graph(name: str, nodes: Sequence[bytes], initializers: Sequence[bytes], inputs: Sequence[bytes],
          outputs: Sequence[bytes]) -> bytes:
    """A ``GraphProto`` from encoded nodes, initializer tensors and input/output value infos."""
    return (b"".join(_bytes(1, n) for n in nodes) + _str(2, name) + b"".join(_bytes(5, t) for t in initializers)
            + b"".join(_bytes(11, i) for i in inputs) + b"".join(_bytes(12, o) for o in outputs))


def model(graph_bytes: bytes, *, ir_version: int, opset: int, producer: str, version: str,
          metadata: dict[str, str]) -> bytes:
    """A ``ModelProto`` with one opset import (the default domain)."""
    return (_int(1, ir_version) + _str(2, producer) + _str(3, version) + _bytes(7, graph_bytes)
            + _bytes(8, _str(1, "") + _int(2, opset))
            + b"".join(_bytes(14, _str(1, k) + _str(2, v)) for k, v in metadata.items()))
