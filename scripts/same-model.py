#!/usr/bin/env python3
"""Two safetensors files hold the same tensors, bit for bit, and the same metadata but the measured
times (the metadata's key order is not fixed, so the files' bytes are not compared).

usage: [ALLOW_META=key.path,...] scripts/same-model.py A.safetensors B.safetensors
Exits 0 when they are the same (metadata differences listed in ALLOW_META allowed), 1 otherwise.
"""
import json, os, struct, sys
def strip_times(v):
    if isinstance(v, dict):
        return {k: strip_times(x) for k, x in v.items() if k not in ("seconds", "samples_per_sec", "comm_seconds")}
    if isinstance(v, list):
        return [strip_times(x) for x in v]
    return v
def read(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    meta = {}
    for k, v in head.pop("__metadata__", {}).items():
        try:
            meta[k] = strip_times(json.loads(v))
        except ValueError:
            meta[k] = v
    data = b[8 + n:]
    tensors = {k: (t["dtype"], t["shape"], data[t["data_offsets"][0]:t["data_offsets"][1]]) for k, t in head.items()}
    return meta, tensors
def diffs(a, b, path):
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += diffs(a.get(k), b.get(k), f"{path}.{k}" if path else k)
        return out
    return [] if a == b else [path]
(ma, ta), (mb, tb) = read(sys.argv[1]), read(sys.argv[2])
if ta != tb:
    print("tensors differ")
    sys.exit(1)
allowed = [p for p in os.environ.get("ALLOW_META", "").split(",") if p]
meta = diffs(ma, mb, "")
unexpected = [d for d in meta if not any(d == p or d.startswith(p + ".") for p in allowed)]
if meta:
    print(("metadata differs: " if unexpected else "metadata differs as allowed: ") + ", ".join(meta))
sys.exit(1 if unexpected else 0)
