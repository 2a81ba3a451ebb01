#!/usr/bin/env python3
"""Which ops does the installed TFLM Python runtime register? (source of Rules/micro.yaml)

For every BuiltinOperator code and a list of custom op codes, builds a one-op model and asks
tflite_micro's interpreter to load it in a child process. An op the resolver lacks fails with
"Didn't find op for builtin opcode" / "Failed to get registration from op code CUSTOM"; any
other outcome (a kernel's Prepare rejecting the dummy tensors included) means it is registered.
The Python runtime's resolver (python_ops_resolver.cc, "PythonOpsResolver") registers every
kernel TFLM ships, i.e. it is the all-ops resolver.

It also checks three kernel limits the profiles state: a FULLY_CONNECTED with float input and
int8 weights (hybrid), with float16 weights, and with uint8 tensors.

Usage: /work/venvs/oracle/bin/python scripts/probe-tflm-ops.py
Prints YAML fragments for Rules/micro.yaml and the kernel results.
"""

import subprocess
import sys

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

CUSTOM_CODES = [
    "CIRCULAR_BUFFER", "TFLite_Detection_PostProcess", "ethos-u",
    "SignalDelay", "SignalEnergy", "SignalFftAutoScale", "SignalFilterBank", "SignalFilterBankLog",
    "SignalFilterBankSpectralSubtraction", "SignalFilterBankSquareRoot", "SignalFramer",
    "SignalIrfft", "SignalOverlapAdd", "SignalPCAN", "SignalRfft", "SignalStacker", "SignalWindow",
]

CHILD = r"""
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
try:
    it = runtime.Interpreter.from_bytes(sys.stdin.buffer.read())
    if len(sys.argv) > 1:
        it.set_input(np.full((1, 4), int(sys.argv[2]), dtype=sys.argv[1]), 0)
        it.invoke()
    print("OK")
except Exception as e:
    print("ERROR", e)
"""


def tensor(name, shape, dtype, buffer=0, scale=None, zero_point=0):
    t = schema.TensorT()
    t.name, t.shape, t.type, t.buffer = name.encode(), shape, dtype, buffer
    if scale is not None:
        q = schema.QuantizationParametersT()
        q.scale, q.zeroPoint = [scale], [zero_point]
        t.quantization = q
    return t


def model(code, tensors, inputs, outputs, op_inputs, op_outputs, custom=None, buffers=(), options=None):
    m = schema.ModelT()
    m.version = 3
    oc = schema.OperatorCodeT()
    oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
    if custom:
        oc.customCode = custom
    m.operatorCodes = [oc]
    m.buffers = [schema.BufferT()]
    for data in buffers:
        b = schema.BufferT()
        b.data = list(data)
        m.buffers.append(b)
    g = schema.SubGraphT()
    g.tensors, g.inputs, g.outputs = tensors, inputs, outputs
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, op_inputs, op_outputs
    if options is not None:
        op.builtinOptionsType, op.builtinOptions = options
    g.operators = [op]
    m.subgraphs = [g]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), b"TFL3")
    return bytes(b.Output())


def run(data, *args):
    r = subprocess.run([sys.executable, "-c", CHILD, *args], input=data, capture_output=True, timeout=120)
    return (r.stdout + r.stderr).decode(errors="replace")


def one_op(code, custom=None):
    ts = [tensor("x", [1], 0), tensor("y", [1], 0)]
    return model(code, ts, [0], [1], [0], [1], custom=custom)


def registered(out):
    return "Didn't find op" not in out and "Failed to get registration" not in out


def main():
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    builtins = [names[c] for c in sorted(names) if c != 32 and registered(run(one_op(c)))]
    customs = [c for c in CUSTOM_CODES if registered(run(one_op(32, c)))]
    print(f"# {len(builtins)} builtin ops")
    print("ops:")
    for n in sorted(builtins):
        print(f"  {n}: any")
    print("custom_ops: [" + ", ".join(customs) + "]")

    fc = (schema.BuiltinOptions.FullyConnectedOptions, schema.FullyConnectedOptionsT())
    hybrid = model(9, [tensor("x", [1, 4], 0), tensor("w", [3, 4], 9, 1, 0.1), tensor("y", [1, 3], 0)],
                   [0], [2], [0, 1, -1], [2], buffers=[np.ones(12, np.int8).tobytes()], options=fc)
    f16 = model(9, [tensor("x", [1, 4], 0), tensor("w", [3, 4], 1, 1), tensor("y", [1, 3], 0)],
                [0], [2], [0, 1, -1], [2], buffers=[np.ones(12, np.float16).tobytes()], options=fc)
    u8 = model(9, [tensor("x", [1, 4], 3, 0, 0.1, 128), tensor("w", [3, 4], 3, 1, 0.1, 128),
                   tensor("y", [1, 3], 3, 0, 0.2, 128)],
               [0], [2], [0, 1, -1], [2], buffers=[np.full(12, 130, np.uint8).tobytes()], options=fc)
    print("# hybrid FULLY_CONNECTED:", run(hybrid, "float32", "1").strip().replace("\n", " | "))
    print("# float16-weight FULLY_CONNECTED:", run(f16, "float32", "1").strip().replace("\n", " | "))
    print("# uint8 FULLY_CONNECTED:", run(u8, "uint8", "140").strip().replace("\n", " | "))


if __name__ == "__main__":
    main()
