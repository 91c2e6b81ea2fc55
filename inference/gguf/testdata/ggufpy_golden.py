# Writes ggufpy.gguf (TestGGUFPyFile) with llama.cpp's gguf-py (c392e5094):
#   GGUF_PY=/path/to/llama.cpp/gguf-py python3 ggufpy_golden.py ggufpy.gguf   (needs numpy)
# Writes it: alignment 64, one key of every value type,
# string and nested arrays, and for each tensor type the kernels run two blocks of seeded random bytes
# (scale fields set to small finite halves) beside "<name>.expected", gguf-py's own numpy dequantisation.
import os, sys, types
# gguf-py imports sentencepiece for its vocabulary helpers, which this script does not use.
m = types.ModuleType('sentencepiece'); m.SentencePieceProcessor = object; sys.modules['sentencepiece'] = m
sys.path.insert(0, os.environ.get('GGUF_PY', 'gguf-py'))
import numpy as np
import gguf
from gguf import quants
V, Q = gguf.GGUFValueType, gguf.GGMLQuantizationType
rng = np.random.default_rng(7)
w = gguf.GGUFWriter(sys.argv[1], 'llama')
w.add_custom_alignment(64)
w.add_key_value('test.u8', 200, V.UINT8); w.add_key_value('test.i8', -100, V.INT8)
w.add_key_value('test.u16', 60000, V.UINT16); w.add_key_value('test.i16', -30000, V.INT16)
w.add_key_value('test.u32', 4000000000, V.UINT32); w.add_key_value('test.i32', -2000000000, V.INT32)
w.add_key_value('test.u64', 18000000000000000000, V.UINT64); w.add_key_value('test.i64', -9000000000000000000, V.INT64)
w.add_key_value('test.f32', 0.15625, V.FLOAT32); w.add_key_value('test.f64', 1e300, V.FLOAT64)
w.add_key_value('test.bool', True, V.BOOL); w.add_key_value('test.string', 'héllo ✓', V.STRING)
w.add_array('test.strings', ['', 'a', '▁the', '<0x0A>', '日本'])
w.add_array('test.floats', [0.5, -1.25, 3.0])
w.add_array('test.nested', [[1, 2], [3]])
half = lambda n: rng.uniform(0.001, 0.05, n).astype(np.float16).view(np.uint8)
for name, qt in [('f16', Q.F16), ('bf16', Q.BF16), ('q8_0', Q.Q8_0), ('q4_0', Q.Q4_0), ('q4_k', Q.Q4_K), ('q5_k', Q.Q5_K), ('q6_k', Q.Q6_K)]:
    bs, ts = gguf.GGML_QUANT_SIZES[qt]
    n = 2 * max(bs, 256) if bs > 1 else 256
    raw = rng.integers(0, 256, (n // bs, ts), dtype=np.uint8)
    if qt == Q.F16:
        raw = rng.normal(0, 1, n).astype(np.float16).view(np.uint8).reshape(n, 2)
    elif qt == Q.BF16:
        raw = (rng.normal(0, 1, n).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16).view(np.uint8).reshape(n, 2)
    elif qt in (Q.Q8_0, Q.Q4_0):
        raw[:, 0:2] = half(n // bs).reshape(-1, 2)
    elif qt in (Q.Q4_K, Q.Q5_K):
        raw[:, 0:4] = half(2 * n // bs).reshape(-1, 4)
    elif qt == Q.Q6_K:
        raw[:, ts - 2:ts] = half(n // bs).reshape(-1, 2)
    raw = raw.reshape(-1)
    want = quants.dequantize(raw, qt).astype(np.float32).reshape(-1)
    assert want.size == n and np.all(np.isfinite(want))
    w.add_tensor(name, raw, raw_shape=(raw.size,), raw_dtype=qt)
    w.add_tensor(name + '.expected', want)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
