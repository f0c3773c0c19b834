#!/usr/bin/env python3
"""The PyTorch side of `tee-offload bench kernels`: a server that the TypeScript harness spawns.

One JSON request per line on stdin, one JSON answer per line on stdout, so that the harness can
interleave our samples with PyTorch's in one run. Requests:
  {"op": "hello", "threads": T}                  -> versions, thread count
  {"op": "prepare", "workload": {...}}           -> allocates the data, resets the peak RSS
  {"op": "time", "iters": n}                     -> {"seconds", "cpuPerWall"} for n calls of the workload
  {"op": "finish"}                               -> {"peakRssKiB": ..., "rssKiB": ...}; frees the data
  {"op": "memory", "model", "batch", "size", "steps", "every", "numClasses"} -> RSS every `every` steps
  {"op": "profile", "model", "batch", "size", "steps", "numClasses"} -> per-phase ms and per-op self ms
Workloads: {"kind": "gemm", "dtype": "f32"|"f64", "m", "n", "k"};
{"kind": "conv", "pass": "forward"|"input"|"weight", "n", "c", "h", "w", "o", "k", "stride", "padding"};
{"kind": "train", "model", "batch", "size", "numClasses"}.
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F
import torchvision


def status_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss():
    # Linux >= 4.0: writing 5 resets VmHWM to the current RSS, so each workload gets its own peak.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def gemm_fn(w):
    dtype = torch.float32 if w["dtype"] == "f32" else torch.float64
    a = torch.rand(w["m"], w["k"], dtype=dtype) * 2 - 1
    b = torch.rand(w["k"], w["n"], dtype=dtype) * 2 - 1
    c = torch.empty(w["m"], w["n"], dtype=dtype)

    def run():
        torch.mm(a, b, out=c)

    return run


def conv_fn(w):
    x = torch.rand(w["n"], w["c"], w["h"], w["w"]) * 2 - 1
    wt = torch.rand(w["o"], w["c"], w["k"], w["k"]) * 2 - 1
    stride, padding = [w["stride"]] * 2, [w["padding"]] * 2
    y = F.conv2d(x, wt, None, stride, padding)
    dy = torch.rand_like(y) * 2 - 1
    p = w["pass"]
    if p == "forward":
        return lambda: F.conv2d(x, wt, None, stride, padding)
    # The kernels autograd itself calls (oneDNN on this build), one gradient at a time.
    mask = [True, False, False] if p == "input" else [False, True, False]

    def run():
        torch.ops.aten.convolution_backward(dy, x, wt, None, stride, padding, [1, 1], False, [0, 0], 1, mask)

    return run


def train_fn(w):
    torch.manual_seed(0)
    model = getattr(torchvision.models, w["model"])(num_classes=w["numClasses"])
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(w["batch"], 3, w["size"], w["size"])
    y = torch.randint(0, w["numClasses"], (w["batch"],))
    state = {"loss": None}

    def run():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        state["loss"] = loss.item()

    return run, state


def profile(req):
    torch.manual_seed(0)
    model = getattr(torchvision.models, req["model"])(num_classes=req["numClasses"])
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(req["batch"], 3, req["size"], req["size"])
    y = torch.randint(0, req["numClasses"], (req["batch"],))
    phases = {"zeroGrad": [], "forward": [], "loss": [], "backward": [], "step": []}

    def step(record):
        t = [time.perf_counter()]
        opt.zero_grad()
        t.append(time.perf_counter())
        out = model(x)
        t.append(time.perf_counter())
        loss = F.cross_entropy(out, y)
        t.append(time.perf_counter())
        loss.backward()
        t.append(time.perf_counter())
        opt.step()
        t.append(time.perf_counter())
        if record:
            for i, name in enumerate(phases):
                phases[name].append((t[i + 1] - t[i]) * 1000)

    step(False)
    steps = int(req["steps"])
    for _ in range(steps):
        step(True)
    # Per-op self CPU time under the autograd profiler (a separate pass: the profiler adds overhead).
    with torch.autograd.profiler.profile() as prof:
        for _ in range(steps):
            step(False)
    ops = [
        {"name": e.key, "selfMs": e.self_cpu_time_total / 1000 / steps, "calls": e.count / steps}
        for e in prof.key_averages()
    ]
    ops.sort(key=lambda o: -o["selfMs"])
    med = {k: sorted(v)[len(v) // 2] for k, v in phases.items()}
    return {"phasesMs": med, "ops": [o for o in ops if o["selfMs"] > 0.001]}


def main():
    torch.set_grad_enabled(True)
    current = None
    state = None
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        op = req["op"]
        try:
            if op == "hello":
                torch.set_num_threads(int(req["threads"]))
                ans = {
                    "torch": torch.__version__,
                    "torchvision": torchvision.__version__,
                    "threads": torch.get_num_threads(),
                    "mkldnn": torch.backends.mkldnn.is_available(),
                    "python": sys.version.split()[0],
                }
            elif op == "prepare":
                w = req["workload"]
                current, state = None, None
                rss_before = status_kib("VmRSS")
                reset_ok = reset_peak_rss()
                if w["kind"] == "gemm":
                    current = gemm_fn(w)
                elif w["kind"] == "conv":
                    current = conv_fn(w)
                elif w["kind"] == "train":
                    current, state = train_fn(w)
                else:
                    raise ValueError("unknown workload kind " + str(w["kind"]))
                ans = {"rssBeforeKiB": rss_before, "peakReset": reset_ok}
            elif op == "time":
                iters = int(req["iters"])
                c0, t0 = time.process_time(), time.perf_counter()
                for _ in range(iters):
                    current()
                wall = time.perf_counter() - t0
                ans = {"seconds": wall, "cpuPerWall": (time.process_time() - c0) / wall}
                if state is not None:
                    ans["loss"] = state["loss"]
                    ans["finite"] = state["loss"] is not None and math.isfinite(state["loss"])
            elif op == "finish":
                current, state = None, None
                ans = {"peakRssKiB": status_kib("VmHWM"), "rssKiB": status_kib("VmRSS")}
            elif op == "memory":
                run, st = train_fn(req)
                samples = []
                for step in range(1, int(req["steps"]) + 1):
                    run()
                    if step % int(req["every"]) == 0:
                        samples.append({"step": step, "rssKiB": status_kib("VmRSS"), "loss": st["loss"]})
                ans = {"samples": samples}
            elif op == "profile":
                ans = profile(req)
            else:
                raise ValueError("unknown op " + str(op))
            ans["ok"] = True
        except Exception as e:  # reported to the harness, which fails the workload with this text
            ans = {"ok": False, "error": type(e).__name__ + ": " + str(e)}
        out.write(json.dumps(ans) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
