"""The hand-written ONNX protobuf encoder, read back by the ``onnx`` package's own parser."""

import numpy as np
import pytest

from rnnlab.interop import _onnx_proto as proto

onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402


def parse_attribute(encoded: bytes) -> "onnx.AttributeProto":
    attr = onnx.AttributeProto()
    attr.ParseFromString(encoded)
    return attr


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "bool"])
def test_tensors_round_trip_with_their_dtype_shape_and_name(dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    t = onnx.TensorProto()
    t.ParseFromString(proto.tensor("weights", a))
    assert t.name == "weights"
    back = numpy_helper.to_array(t)
    assert back.dtype == a.dtype and back.shape == a.shape
    np.testing.assert_array_equal(back, a)
    scalar = onnx.TensorProto()
    scalar.ParseFromString(proto.tensor("s", np.asarray(-7, np.int64)))
    assert numpy_helper.to_array(scalar).shape == () and int(numpy_helper.to_array(scalar)) == -7


def test_tensor_refuses_a_dtype_onnx_gets_no_code_for_here():
    with pytest.raises(TypeError, match="no ONNX tensor type for dtype complex128"):
        proto.tensor("z", np.zeros(2, complex))


def test_attributes_of_every_kind_decode_to_the_values_written():
    a = parse_attribute(proto.attribute("axis", -1))  # negative int64: ten-byte varint
    assert (a.name, a.type, a.i) == ("axis", onnx.AttributeProto.INT, -1)
    a = parse_attribute(proto.attribute("hidden_size", 2**40 + 3))
    assert a.i == 2**40 + 3
    a = parse_attribute(proto.attribute("alpha", 0.2))
    assert a.type == onnx.AttributeProto.FLOAT and a.f == pytest.approx(0.2, rel=1e-7)
    a = parse_attribute(proto.attribute("direction", "reverse"))
    assert a.type == onnx.AttributeProto.STRING and a.s == b"reverse"
    a = parse_attribute(proto.attribute("activations", ["HardSigmoid", "Tanh"]))
    assert a.type == onnx.AttributeProto.STRINGS and list(a.strings) == [b"HardSigmoid", b"Tanh"]
    a = parse_attribute(proto.attribute("activation_alpha", [0.2, 1.0]))
    assert a.type == onnx.AttributeProto.FLOATS and list(a.floats) == pytest.approx([0.2, 1.0], rel=1e-7)
    a = parse_attribute(proto.attribute("perm", [1, 0, 2]))
    assert a.type == onnx.AttributeProto.INTS and list(a.ints) == [1, 0, 2]
    with pytest.raises(TypeError, match="cannot encode"):
        proto.attribute("mixed", [1, "a"])


def test_a_whole_model_parses_and_passes_the_checker():
    nodes = [proto.node("Transpose", ["x"], ["t"], "transpose", {"perm": [1, 0, 2]}),
             proto.node("Add", ["t", "bias"], ["y"], "add", {})]
    inputs = [proto.value_info("x", proto.FLOAT, ["batch", "time", 3])]
    outputs = [proto.value_info("y", proto.FLOAT, ["time", "batch", 3])]
    g = proto.graph("tiny", nodes, [proto.tensor("bias", np.ones(3, np.float32))], inputs, outputs)
    m = onnx.load_from_string(proto.model(g, ir_version=7, opset=14, producer="rnnlab", version="0.1.0",
                                          metadata={"k": "v"}))
    onnx.checker.check_model(m, full_check=True)
    assert (m.ir_version, m.producer_name, m.opset_import[0].version) == (7, "rnnlab", 14)
    assert [(p.key, p.value) for p in m.metadata_props] == [("k", "v")]
    dims = m.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", "time", 3]
    assert [n.op_type for n in m.graph.node] == ["Transpose", "Add"]
