"""The Jupyter kernel's costs (issue 18's targets), with the real Jupyter client:
  1. cell round trip: execute_request of `1+1` until the kernel is idle again (median of N);
  2. the same LeNet training as a script (`luacnn FILE`) and as a notebook cell, alternated,
     compared by training time (d2l.train_ch6's train_seconds, epochs only).
  LUACNN_EXE=build/luacnn LUACNN_DATA=../shared/data python3 bench/jupyter_kernel.py [--epochs 10] [--subset N]
Needs jupyter_client (pip). Prints a Markdown table for bench/RESULTS.md."""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from jupyter_client import KernelManager

ap = argparse.ArgumentParser()
ap.add_argument("--epochs", type=int, default=10)
ap.add_argument("--subset", type=int, default=0, help="examples per split (0: all)")
ap.add_argument("--repeats", type=int, default=2)
ap.add_argument("--round-trips", type=int, default=200)
a = ap.parse_args()

EXE = os.path.abspath(os.environ.get("LUACNN_EXE", "build/luacnn"))
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
tmp = tempfile.mkdtemp(prefix="luacnn-bench-")
subprocess.run([EXE, "kernel", "install", "--prefix", tmp], check=True, capture_output=True)
os.environ["JUPYTER_PATH"] = os.path.join(tmp, "share", "jupyter")

subset = f"subset = {a.subset}" if a.subset else ""
train = f"""lc.manual_seed(0)
local d2l = lc.d2l
local net = dofile('{SRC}/examples/lenet_net.lua')
local train_iter, test_iter = d2l.load_data_fashion_mnist(256, nil, {{{subset}}})
local r = d2l.train_ch6(net, train_iter, test_iter, {a.epochs}, 0.9, 'cpu', {{run = false, quiet = true}})
"""
script = os.path.join(tmp, "lenet_bench.lua")
with open(script, "w") as f:
    f.write(train + "print(string.format('RESULT %.6f %.3f', r.train_seconds, r.examples_per_sec))\n")

km = KernelManager(kernel_name="luacnn")
km.start_kernel()
kc = km.client()
kc.start_channels()
kc.wait_for_ready(timeout=60)


def execute(code, timeout=3600):
    msg_id = kc.execute(code)
    out = None
    while True:
        m = kc.get_iopub_msg(timeout=timeout)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        if m["msg_type"] == "execute_result":
            out = m["content"]["data"]["text/plain"]
        if m["msg_type"] == "error":
            raise RuntimeError(m["content"]["evalue"])
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            return out


for _ in range(20):
    execute("1+1")
rt = []
for _ in range(a.round_trips):
    t = time.perf_counter()
    execute("1+1")
    rt.append((time.perf_counter() - t) * 1000)
rt.sort()
print(f"round trip (1+1, execute_request to idle): median {statistics.median(rt):.3f} ms, "
      f"p90 {rt[int(0.9 * len(rt))]:.3f} ms over {len(rt)}")

runs = {"script": [], "notebook": []}
for rep in range(a.repeats):
    for kind in ("script", "notebook"):
        if kind == "script":
            out = subprocess.run([EXE, script], capture_output=True, text=True, check=True).stdout
            line = [l for l in out.splitlines() if l.startswith("RESULT ")][0].split()
            secs, eps = float(line[1]), float(line[2])
        else:
            text = execute(train + "return r.train_seconds, r.examples_per_sec")
            secs, eps = (float(x) for x in text.split("\t"))
        runs[kind].append((secs, eps))
        print(f"{kind:8s} run {rep + 1}: {secs:.2f} s training, {eps:.0f} examples/sec", flush=True)

kc.shutdown()
kc.stop_channels()
s = statistics.median(x[0] for x in runs["script"])
n = statistics.median(x[0] for x in runs["notebook"])
print(f"\n| LeNet {a.epochs} epochs{' on ' + str(a.subset) + ' examples' if a.subset else ''} | training s (median of {a.repeats}) |")
print("|---|---|")
print(f"| script (`luacnn file.lua`) | {s:.2f} |")
print(f"| notebook cell (luacnn kernel) | {n:.2f} ({(n / s - 1) * 100:+.1f}%) |")
shutil.rmtree(tmp, ignore_errors=True)
