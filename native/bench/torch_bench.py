# PyTorch side of native/bench/compare.mjs: the same convolutions and sgemm, median seconds per op.
# Usage: python3 torch_bench.py THREADS REPS  → one JSON object on stdout.
import json, sys, time
import torch
import torch.nn.functional as F

threads, reps = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
CONVS = [(4, 64, 32, 32, 64, 3, 1, 1), (4, 256, 8, 8, 256, 3, 1, 1), (1, 3, 224, 224, 64, 11, 4, 2)]

def median(f):
    for _ in range(3): f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]

out = {"threads": threads, "conv": [], "sgemm": None}
with torch.no_grad():
    for (n, c, h, w, o, k, s, p) in CONVS:
        x = torch.randn(n, c, h, w); wt = torch.randn(o, c, k, k)
        y = F.conv2d(x, wt, stride=s, padding=p); dy = torch.randn_like(y)
        cb = torch.ops.aten.convolution_backward
        args = lambda mask: cb(dy, x, wt, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, mask)
        out["conv"].append({
            "geom": [n, c, h, w, o, k, s, p],
            "fwd": median(lambda: F.conv2d(x, wt, stride=s, padding=p)),
            "bwdInput": median(lambda: args([True, False, False])),
            "bwdWeight": median(lambda: args([False, True, False])),
        })
    a = torch.randn(1024, 1024); b = torch.randn(1024, 1024)
    out["sgemm"] = median(lambda: torch.mm(a, b))
print(json.dumps(out))
