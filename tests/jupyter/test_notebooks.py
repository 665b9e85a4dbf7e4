"""Executes every notebook in examples/notebooks/ headless with nbclient on the luacnn kernel
(as `jupyter nbconvert --execute` does) and checks what a reader would look at: the values,
the inline PNGs (decodable, of the right size), the summary table's rows, the error cell's
Lua message. Run by tests/jupyter/run_test.sh (ctest: jupyter/test_notebooks)."""
import base64
import os
import shutil
import re
import subprocess
import sys
import tempfile
import time

try:
    import nbformat
    from nbclient import NotebookClient
except ImportError as e:  # pragma: no cover
    print(f"SKIPPED: jupyter/test_notebooks needs nbclient and nbformat ({e})")
    sys.exit(77)

EXE = os.environ["LUACNN_EXE"]
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOKS = os.path.join(SOURCE, "examples", "notebooks")
data = os.environ.get("LUACNN_DATA", "")

probe = subprocess.run([EXE, "kernel", "-h"], capture_output=True, text=True)
if probe.returncode == 69:
    print("SKIPPED: jupyter/test_notebooks: this luacnn was built without the kernel: " + probe.stderr.strip())
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix="luacnn-notebooks-")
subprocess.run([EXE, "kernel", "install", "--prefix", tmp], check=True, capture_output=True)
os.environ["JUPYTER_PATH"] = os.path.join(tmp, "share", "jupyter")
os.environ["JUPYTER_DATA_DIR"] = os.path.join(tmp, "data")
os.environ["JUPYTER_RUNTIME_DIR"] = os.path.join(tmp, "runtime")
out_dir = os.environ.get("LUACNN_NOTEBOOK_OUT", tmp)

failures, checks = [], 0


def check(cond, what, detail=""):
    global checks
    checks += 1
    print(f"{'ok' if cond else 'not ok'} {checks} - {what}")
    if not cond:
        print(f"    {str(detail)[:2000]}")
        failures.append(what)


def png_size(b64):
    b = base64.b64decode(b64)
    if b[:8] != b"\x89PNG\r\n\x1a\n" or b[12:16] != b"IHDR":
        return None
    return int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")


def outputs(cell, kind=None):
    return [o for o in cell.get("outputs", []) if kind is None or o["output_type"] == kind]


def result_data(cell):
    for o in cell.get("outputs", []):
        if o["output_type"] == "execute_result":
            return o["data"]
    return {}


def text(cell, name="stdout"):
    return "".join(o["text"] for o in outputs(cell, "stream") if o["name"] == name)


def execute(name):
    nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    t = time.time()
    client = NotebookClient(nb, kernel_name="luacnn", timeout=600,
                            resources={"metadata": {"path": NOTEBOOKS}})
    try:
        client.execute()
    except Exception as e:   # a cell failed: report it and what ran
        check(False, f"{name} runs to the end", e)
    nbformat.write(nb, os.path.join(out_dir, name))
    print(f"# {name}: executed in {time.time() - t:.1f} s -> {os.path.join(out_dir, name)}")
    return [c for c in nb.cells if c.cell_type == "code"]


found = sorted(f for f in os.listdir(NOTEBOOKS) if f.endswith(".ipynb"))
check({"corr2d.ipynb", "lenet.ipynb", "leaves.ipynb"} <= set(found), "the chapter's notebooks are there", found)

# ---- corr2d ---------------------------------------------------------------------------------------
cells = execute("corr2d.ipynb")
d = result_data(cells[1])
check(all(f"<td>{v}</td>" in d.get("text/html", "") for v in (19, 25, 37, 43)),
      "corr2d: the 3x3 example gives 19 25 / 37 43, as an HTML table", d)
d = result_data(cells[2])
check(d.get("text/html", "").count("<tr>") == 6 and "<td>-1</td>" in d["text/html"],
      "corr2d: the edge map Y (6x7) with 1 and -1", d)
check("epoch 20, loss" in text(cells[3]), "corr2d: the learning loop's lines are streamed", text(cells[3]))
d = result_data(cells[3])
check("text/plain" in d, "corr2d: the learned kernel is shown", d)
d = result_data(cells[4])
check("image/png" in d and png_size(d["image/png"]) == (480, 300),
      "corr2d: the loss curve is an inline 480x300 PNG", list(d))
errs = outputs(cells[5], "error")
check(len(errs) == 1 and "dim 2 is out of range" in errs[0]["evalue"] and errs[0]["ename"] == "LuaError"
      and any("stack traceback" in l for l in errs[0]["traceback"]),
      "corr2d: the error cell shows the Lua message and traceback", errs)

# ---- lenet ------------------------------------------------------------------------------------------
if not os.path.isdir(os.path.join(data, "fashion-mnist")):
    print(f"# lenet.ipynb needs $LUACNN_DATA/fashion-mnist ({data!r}): not run")
else:
    cells = execute("lenet.ipynb")
    disp = outputs(cells[0], "display_data")
    html = disp[0]["data"].get("text/html", "") if disp else ""
    check(html.count("Conv2d") == 2 and html.count("MaxPool2d") == 2 and html.count(">Linear<") == 3
          and "(1, 6, 28, 28)" in html and "61,706" in html,
          "lenet: net:summary is an HTML table with the layer rows and 61,706 parameters", html or cells[0])
    d = result_data(cells[1])
    check(d.get("text/plain") == "32\t32", "lenet: the subset gives 32 + 32 batches", d)
    disp = outputs(cells[2], "display_data")
    check(len(disp) == 1 and png_size(disp[0]["data"]["image/png"]) == (560, 350),
          "lenet: one inline curve (updated in place each epoch), a 560x350 PNG", disp)
    check("loss" in text(cells[2]) and "examples/sec" in text(cells[2]),
          "lenet: the training lines are streamed", text(cells[2]))
    check(result_data(cells[2]).get("text/plain") == "4", "lenet: four epochs ran", result_data(cells[2]))
    accs = re.findall(r"test acc ([0-9.]+)", text(cells[2]))
    check(len(accs) >= 4 and float(accs[-1]) > 0.5, "lenet: it learns (test accuracy above 0.5)", accs)
    d = result_data(cells[3])
    check(d.get("text/plain", "").count("tensor([") == 2, "lenet: predictions and labels, one per line", d)

# ---- leaves ------------------------------------------------------------------------------------------
if not os.path.isdir(os.path.join(data, "classify-leaves")):
    print(f"# leaves.ipynb needs $LUACNN_DATA/classify-leaves ({data!r}): not run")
else:
    cells = execute("leaves.ipynb")
    d = result_data(cells[0])
    n = [int(x) for x in d.get("text/plain", "0\t0\t0").split("\t")]
    check(len(n) == 3 and n[1] + n[2] == 512 and n[0] > 1, "leaves: the split of 512 images", d)
    d = result_data(cells[1])
    check(png_size(d.get("image/png", "")) == (3 * 224, 224) and text(cells[1]).strip() in
          open(os.path.join(data, "classify-leaves", "train.csv")).read(),
          "leaves: three images side by side as one 672x224 PNG, and a label", list(d))
    d = result_data(cells[2])
    check(d.get("text/plain", "").count("\t") == 1, "leaves: the loaders' batch counts", d)
    disp = outputs(cells[3], "display_data")
    check(len(disp) == 1 and "BatchNorm2d" not in disp[0]["data"]["text/html"]
          and disp[0]["data"]["text/html"].count("Sequential") == 3,
          "leaves: the net's summary table", disp)
    disp = outputs(cells[4], "display_data")
    check(len(disp) == 1 and png_size(disp[0]["data"]["image/png"]) == (560, 350)
          and result_data(cells[4]).get("text/plain") == "2",
          "leaves: two epochs with the inline curve", [o["output_type"] for o in cells[4].outputs])

print(f"1..{checks}")
if failures:
    print(f"FAILED {len(failures)} of {checks}: " + "; ".join(failures))
    sys.exit(1)
print(f"all {checks} checks passed")
shutil.rmtree(tmp, ignore_errors=True)
