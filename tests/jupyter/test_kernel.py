"""The luacnn Jupyter kernel driven by the real Jupyter client (jupyter_client from PyPI).

Run by tests/jupyter/run_test.sh (ctest: jupyter/kernel) with LUACNN_EXE set. Exit 77 with
"SKIPPED: ..." when jupyter_client is missing or the build has no kernel.
"""
import base64
import json
import os
import shutil
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import time

try:
    import jupyter_client
    from jupyter_client import KernelManager
    from jupyter_client.session import Session
except ImportError as e:  # pragma: no cover
    print(f"SKIPPED: jupyter/kernel needs the Python module jupyter_client ({e})")
    sys.exit(77)

EXE = os.environ.get("LUACNN_EXE")
if not EXE or not os.access(EXE, os.X_OK):
    print("FAIL: LUACNN_EXE does not name the luacnn executable")
    sys.exit(1)

failures = []
checks = 0


def check(cond, what, detail=""):
    global checks
    checks += 1
    if cond:
        print(f"ok {checks} - {what}")
    else:
        print(f"not ok {checks} - {what}\n    {detail}")
        failures.append(what)


def png_size(b):
    if b[:8] != b"\x89PNG\r\n\x1a\n" or b[12:16] != b"IHDR":
        return None
    return int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")


probe = subprocess.run([EXE, "kernel", "-h"], capture_output=True, text=True)
if probe.returncode == 69:
    print("SKIPPED: jupyter/kernel: this luacnn was built without the kernel: " + probe.stderr.strip())
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix="luacnn-jupyter-")

# ---- install ---------------------------------------------------------------------------------
r = subprocess.run([EXE, "kernel", "install", "--prefix", tmp], capture_output=True, text=True)
check(r.returncode == 0, "kernel install --prefix exits 0", r.stderr)
kdir = os.path.join(tmp, "share", "jupyter", "kernels", "luacnn")
spec = json.load(open(os.path.join(kdir, "kernel.json")))
check(spec["argv"][1:] == ["kernel", "-f", "{connection_file}"] and os.path.samefile(spec["argv"][0], EXE),
      "kernel.json argv runs this luacnn with -f {connection_file}", spec["argv"])
check(spec["display_name"] == "luacnn (Lua 5.4)" and spec["language"] == "lua",
      "kernel.json display_name and language", spec)
for size in (32, 64):
    with open(os.path.join(kdir, f"logo-{size}x{size}.png"), "rb") as f:
        check(png_size(f.read()) == (size, size), f"logo-{size}x{size}.png is a {size}x{size} PNG")
home = os.path.join(tmp, "home")
user_env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_DATA_DIR", "XDG_DATA_HOME")}
user_env["HOME"] = home
r = subprocess.run([EXE, "kernel", "install", "--user"], capture_output=True, text=True, env=user_env)
check(r.returncode == 0 and os.path.exists(os.path.join(home, ".local/share/jupyter/kernels/luacnn/kernel.json")),
      "kernel install --user writes under ~/.local/share/jupyter/kernels", r.stdout + r.stderr)
user_env["JUPYTER_DATA_DIR"] = os.path.join(tmp, "jdata")
r = subprocess.run([EXE, "kernel", "install", "--user", "--name", "lc2"], capture_output=True, text=True, env=user_env)
check(r.returncode == 0 and os.path.exists(os.path.join(tmp, "jdata/kernels/lc2/kernel.json")),
      "kernel install --user honours JUPYTER_DATA_DIR and --name", r.stdout + r.stderr)
r = subprocess.run([EXE, "kernel", "install", "--bogus"], capture_output=True, text=True)
check(r.returncode == 2 and "unknown option" in r.stderr, "kernel install refuses an unknown option", r.stderr)

# ---- start through the kernelspec, as Jupyter does ----------------------------------------------
os.environ["JUPYTER_PATH"] = os.path.join(tmp, "share", "jupyter")
os.environ["JUPYTER_DATA_DIR"] = os.path.join(tmp, "data")
os.environ["JUPYTER_RUNTIME_DIR"] = os.path.join(tmp, "runtime")
log_path = os.path.join(tmp, "kernel.log")
log = open(log_path, "w")
km = KernelManager(kernel_name="luacnn")
km.start_kernel(stderr=log, stdout=log)
kc = km.client()
kc.start_channels()
try:
    kc.wait_for_ready(timeout=60)
except RuntimeError as e:
    print("not ok - kernel did not become ready:", e, open(log_path).read())
    sys.exit(1)


def run(code, timeout=30, allow_error=False):
    """Executes code; returns (reply content, list of iopub messages for it)."""
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    msgs = []
    while True:
        m = kc.get_iopub_msg(timeout=timeout)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        msgs.append(m)
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
    if reply["content"]["status"] != "ok" and not allow_error:
        print("    cell failed:", code, reply["content"].get("evalue"))
    return reply["content"], msgs


def result(msgs, mime="text/plain"):
    for m in msgs:
        if m["msg_type"] == "execute_result":
            return m["content"]["data"].get(mime)
    return None


def stream(msgs, name="stdout"):
    return "".join(m["content"]["text"] for m in msgs
                   if m["msg_type"] == "stream" and m["content"]["name"] == name)


def of_type(msgs, t):
    return [m for m in msgs if m["msg_type"] == t]


# ---- kernel_info ---------------------------------------------------------------------------------
kc.kernel_info()
info = kc.get_shell_msg(timeout=10)["content"]
check(info["language_info"]["name"] == "lua" and info["protocol_version"] == "5.3"
      and info["implementation"] == "luacnn", "kernel_info_reply: lua, protocol 5.3", info)

# ---- execute: state, locals across cells, values ----------------------------------------------
rep, msgs = run("local x = 40")
check(rep["status"] == "ok" and result(msgs) is None, "a cell ending in an assignment shows no value")
check(any(m["msg_type"] == "execute_input" and m["content"]["code"] == "local x = 40" for m in msgs),
      "execute_input is published")
check([m["content"]["execution_state"] for m in of_type(msgs, "status")] == ["busy", "idle"],
      "status busy then idle")
rep, msgs = run("x + 2")
check(result(msgs) == "42", "a top-level local of an earlier cell is visible later: x + 2 = 42", msgs)
check(rep["execution_count"] == 2, "execution_count counts the cells", rep)
rep, msgs = run("local function sq(a)\n  return a * a\nend\nlocal y <const> = 5\nsq(y)")
check(result(msgs) == "25", "the last expression of a multi-line cell is its value (25)", msgs)
rep, msgs = run("sq(3), y")
check(result(msgs) == "9\t5", "local functions and <const> locals carry to later cells", msgs)
rep, msgs = run("for i = 1, 2 do local inner = i end\nreturn inner == nil")
check(result(msgs) == "true", "locals inside blocks stay local", msgs)
rep, msgs = run("t = {}\nfunction t.f(v) return v .. '!' end\nt.f('hi')")
check(result(msgs) == "hi!", "a call on the last line gives its value", msgs)
rep, msgs = run("w = 10\nz = 1\n-w")
check(result(msgs) is None and result(run("z")[1]) == "-9",
      "a last line that continues the statement above is not split off (z = 1 - w)")

# ---- stream ---------------------------------------------------------------------------------------
rep, msgs = run("print('hello', 1)\nio.write('world\\n')\nio.stderr:write('warn\\n')")
check(stream(msgs) == "hello\t1\nworld\n", "print and io.write go to stdout streams", stream(msgs))
check(stream(msgs, "stderr") == "warn\n", "io.stderr goes to the stderr stream", stream(msgs, "stderr"))
msg_id = kc.execute("for i = 1, 3 do print('tick ' .. i) local t = os.clock() while os.clock() - t < 0.4 do end end")
first_tick = None
t0 = time.time()
while True:
    m = kc.get_iopub_msg(timeout=30)
    if m["parent_header"].get("msg_id") != msg_id:
        continue
    if m["msg_type"] == "stream" and first_tick is None:
        first_tick = time.time() - t0
    if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
        done = time.time() - t0
        break
kc.get_shell_msg(timeout=10)
check(first_tick is not None and done - first_tick > 0.6,
      f"output streams while the cell runs (first line after {first_tick:.2f}s, cell {done:.2f}s)")

# ---- errors ---------------------------------------------------------------------------------------
rep, msgs = run("local function inner() error('boom') end\ninner()", allow_error=True)
err = of_type(msgs, "error")
check(rep["status"] == "error" and rep["ename"] == "LuaError" and "boom" in rep["evalue"],
      "an error replies status error with the Lua message", rep)
tb = "\n".join(rep.get("traceback", []))
check(len(err) == 1 and "stack traceback" in tb and "In[" in tb and "inner" in tb,
      "the error message carries the Lua traceback through the cell's function", tb)
rep, msgs = run("x = = 1", allow_error=True)
check(rep["status"] == "error" and rep["ename"] == "SyntaxError", "a syntax error is reported", rep)
rep, msgs = run("x")
check(result(msgs) == "40", "the state survives errors", msgs)

id1 = kc.execute("local t = os.clock() while os.clock() - t < 0.5 do end error('stop here')")
id2 = kc.execute("never = 1")
replies = {}
while len(replies) < 2:
    m = kc.get_shell_msg(timeout=30)
    replies[m["parent_header"]["msg_id"]] = m["content"]["status"]
check(replies.get(id1) == "error" and replies.get(id2) == "aborted",
      "a cell queued behind a failing one is aborted (stop_on_error)", replies)
rep, msgs = run("never == nil")
check(result(msgs) == "true", "the aborted cell did not run, and the next one does", msgs)

# ---- input ------------------------------------------------------------------------------------------
msg_id = kc.execute("io.write('a number? ')\nanswer = io.read('n')\nanswer + 1", allow_stdin=True)
req = kc.get_stdin_msg(timeout=10)
check(req["msg_type"] == "input_request" and req["parent_header"]["msg_id"] == msg_id,
      "io.read asks the frontend (input_request on stdin)", req)
kc.input("41")
reply = kc.get_shell_msg(timeout=10)["content"]
msgs = []
while True:
    m = kc.get_iopub_msg(timeout=10)
    if m["parent_header"].get("msg_id") == msg_id:
        msgs.append(m)
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
check(reply["status"] == "ok" and result(msgs) == "42" and stream(msgs) == "a number? ",
      "the line typed is what io.read returns", (reply, msgs))
msg_id = kc.execute("io.read()", allow_stdin=False)
reply = kc.get_shell_msg(timeout=10)["content"]
check(reply["status"] == "error" and "allow_stdin" in reply["evalue"],
      "io.read says so when the frontend takes no input", reply)

msg_id = kc.execute("io.read()", allow_stdin=True)
kc.get_stdin_msg(timeout=10)
km.interrupt_kernel()
reply = kc.get_shell_msg(timeout=10)["content"]
check(reply["status"] == "error" and reply["ename"] == "Interrupted",
      "an interrupt ends a wait for input", reply)

# ---- completion -----------------------------------------------------------------------------------
kc.complete("lc.nn.Con", 9)
c = kc.get_shell_msg(timeout=10)["content"]
check("Conv2d" in c["matches"] and c["cursor_start"] == 6 and c["cursor_end"] == 9,
      "complete lc.nn.Con -> Conv2d (REPL completion)", c)
kc.complete("s = 'äö'; lc.nn.Con", 19)
c = kc.get_shell_msg(timeout=10)["content"]
check("Conv2d" in c["matches"] and c["cursor_start"] == 16 and c["cursor_end"] == 19,
      "completion positions count code points, not bytes", c)
run("tt = lc.zeros{2, 3}")
kc.complete("tt:si", 5)
c = kc.get_shell_msg(timeout=10)["content"]
check("size" in c["matches"], "complete tensor methods after ':'", c)
kc.complete("local a = str", 13)
c = kc.get_shell_msg(timeout=10)["content"]
check("string" in c["matches"] and c["cursor_start"] == 10, "complete globals", c)

# ---- is_complete ----------------------------------------------------------------------------------
def is_complete(code):
    kc.is_complete(code)
    return kc.get_shell_msg(timeout=10)["content"]["status"]


check(is_complete("for i = 1, 3 do") == "incomplete", "is_complete: an open block is incomplete")
check(is_complete("for i = 1, 3 do print(i) end") == "complete", "is_complete: a closed block")
check(is_complete("1 + 1") == "complete", "is_complete: an expression")
check(is_complete("x = = 1") == "invalid", "is_complete: a syntax error is invalid")

# ---- inspect --------------------------------------------------------------------------------------
kc.inspect("tt", 2)
c = kc.get_shell_msg(timeout=10)["content"]
text = c["data"].get("text/plain", "")
check(c["found"] and "(2, 3)" in text and "float32" in text and "cpu" in text,
      "inspect a tensor: shape, dtype, device", c)
kc.inspect("lc.plot.lines(", 13)
c = kc.get_shell_msg(timeout=10)["content"]
text = c["data"].get("text/plain", "")
check(c["found"] and text.startswith("lc.plot.lines(c)") and "One chart" in text,
      "inspect a function: signature and its doc comment", text)
kc.inspect("nosuchname", 3)
c = kc.get_shell_msg(timeout=10)["content"]
check(c["status"] == "ok" and not c["found"], "inspect an unknown name: found false", c)

# ---- history, comm_info ---------------------------------------------------------------------------
kc.history(hist_access_type="tail", n=2)
h = kc.get_shell_msg(timeout=10)["content"]
check(h["status"] == "ok" and len(h["history"]) == 2 and h["history"][-1][2] == "tt = lc.zeros{2, 3}",
      "history_request tail 2", h)
kc.comm_info()
c = kc.get_shell_msg(timeout=10)["content"]
check(c["status"] == "ok" and c["comms"] == {}, "comm_info_request", c)

# ---- rich display -----------------------------------------------------------------------------------
rep, msgs = run("lc.tensor{{1, 2, 3}, {4, 5, 6}}")
html = result(msgs, "text/html") or ""
check(html.count("<tr>") == 2 and "<td>6</td>" in html, "a small tensor also shows as an HTML table", html)
check("[" in (result(msgs) or "") or "tensor" in (result(msgs) or ""), "and as the REPL's text", result(msgs))
rep, msgs = run("big = lc.zeros{100, 100}\nbig")
check(result(msgs, "text/html") is None and result(msgs) is not None, "a big tensor shows as text only")
rep, msgs = run("local obj = setmetatable({}, {__repr_html = function() return '<b>mine</b>' end,\n"
                "  __tostring = function() return 'Mine' end})\nlc.display(obj)")
d = of_type(msgs, "display_data")
check(len(d) == 1 and d[0]["content"]["data"].get("text/html") == "<b>mine</b>"
      and d[0]["content"]["data"].get("text/plain") == "Mine", "lc.display honours __repr_html", msgs)
rep, msgs = run("png = lc.plot.lines{width = 320, height = 200, series = {{name = 'a', y = {1, 3, 2}}}}\npng")
img = result(msgs, "image/png")
check(img is not None and png_size(base64.b64decode(img)) == (320, 200),
      "a PNG value shows as image/png of the right size")
rep, msgs = run("lc.display(setmetatable({}, {__repr_png = function() return png end}))")
d = of_type(msgs, "display_data")
check(len(d) == 1 and png_size(base64.b64decode(d[0]["content"]["data"]["image/png"])) == (320, 200),
      "lc.display honours __repr_png")
path = os.path.join(tmp, "fig.png")
rep, msgs = run(f"lc.plot.lines{{path = '{path}', width = 300, height = 200, series = {{{{y = {{1, 2}}}}}}}}")
d = of_type(msgs, "display_data")
check(len(d) == 1 and png_size(base64.b64decode(d[0]["content"]["data"]["image/png"])) == (300, 200)
      and os.path.exists(path), "an lc.plot figure written to a file is also shown inline")
rep, msgs = run("lc.display('one', {display_id = 'mine'})\nlc.display('two', {display_id = 'mine', update = true})")
u = of_type(msgs, "update_display_data")
check(len(u) == 1 and u[0]["content"]["transient"]["display_id"] == "mine"
      and u[0]["content"]["data"]["text/plain"] == "two", "update_display_data through lc.display", msgs)
rep, msgs = run("net = lc.nn.Sequential{lc.nn.Conv2d(1, 6, 5, {padding = 2}), lc.nn.ReLU(), lc.nn.Flatten(),\n"
                "  lc.nn.Linear(6 * 28 * 28, 10)}\nnet:summary{1, 1, 28, 28}")
d = of_type(msgs, "display_data")
html = d[0]["content"]["data"].get("text/html", "") if d else ""
check(len(d) == 1 and "<table" in html and html.count("<tr>") >= 6 and "Conv2d" in html
      and "(1, 6, 28, 28)" in html and "47,206" in html,
      "net:summary shows as an HTML table with the layer rows", html or msgs)
rep, msgs = run("""
lc.manual_seed(1)
local X = lc.randn(64, 2) ; local y = lc.ones(64, {dtype = 'int64'})
for i = 2, 64, 2 do X[i] = X[i] + 2 ; y[i] = 2 end
local dl = lc.data.DataLoader(lc.data.TensorDataset(X, y), {batch_size = 16})
local res = lc.d2l.train_ch6(lc.nn.Sequential{lc.nn.Linear(2, 4), lc.nn.ReLU(), lc.nn.Linear(4, 2)},
                             dl, dl, 3, 0.1, 'cpu', {run = false})
res.epochs
""", timeout=120)
d, u = of_type(msgs, "display_data"), of_type(msgs, "update_display_data")
check(result(msgs) == "3" and len(d) == 1 and len(u) == 2
      and u[-1]["content"]["transient"]["display_id"] == d[0]["content"]["transient"]["display_id"]
      and png_size(base64.b64decode(u[-1]["content"]["data"]["image/png"])) is not None,
      "d2l.train_ch6: one curve shown, then updated in place each epoch",
      [m["msg_type"] for m in msgs])

rundir = os.path.join(tmp, "run1")
rep, msgs = run(f"""
lc.manual_seed(1)
local X = lc.randn(64, 2) ; local y = lc.ones(64, {{dtype = 'int64'}})
for i = 2, 64, 2 do X[i] = X[i] + 2 ; y[i] = 2 end
local dl = lc.data.DataLoader(lc.data.TensorDataset(X, y), {{batch_size = 16}})
local r = require('luacnn.run').start{{dir = '{rundir}', script = 'notebook', quiet = true}}
local res = lc.d2l.train_ch6(lc.nn.Sequential{{lc.nn.Linear(2, 4), lc.nn.ReLU(), lc.nn.Linear(4, 2)}},
                             dl, dl, 3, 0.1, 'cpu', {{run = r}})
res.epochs
""", timeout=120)
d, u = of_type(msgs, "display_data"), of_type(msgs, "update_display_data")
check(result(msgs) == "3" and len(d) == 1 and len(u) >= 2 and os.path.exists(os.path.join(rundir, "curves.png"))
      and u[-1]["content"]["transient"]["display_id"] == d[0]["content"]["transient"]["display_id"],
      "d2l.train_ch6 with a run folder: its curves.png shown once, updated each epoch",
      [m["msg_type"] for m in msgs])
msg_id = kc.execute(f"""
local X = lc.randn(4096, 2) ; local y = lc.ones(4096, {{dtype = 'int64'}})
local dl = lc.data.DataLoader(lc.data.TensorDataset(X, y), {{batch_size = 4}})
lc.d2l.train_ch6(lc.nn.Sequential{{lc.nn.Linear(2, 2)}}, dl, dl, 1000, 0.1, 'cpu', {{run = false}})
""")
time.sleep(2)
km.interrupt_kernel()
reply = kc.get_shell_msg(timeout=20)["content"]
check(reply["status"] == "error" and reply["ename"] == "Interrupted" and "interrupted!" in reply["evalue"],
      "an interrupt stops a d2l training loop", reply)
rep, msgs = run("2 + 2")
check(result(msgs) == "4", "and the kernel answers after it", msgs)

# ---- round trip ------------------------------------------------------------------------------------
times = []
for _ in range(30):
    t = time.perf_counter()
    rep, msgs = run("1+1")
    times.append((time.perf_counter() - t) * 1000)
med = statistics.median(times)
print(f"# cell round trip (execute_request of 1+1 to idle): median {med:.2f} ms, min {min(times):.2f} ms")
check(med < 50, "a cell round trip is quick", med)

# ---- signatures ------------------------------------------------------------------------------------
for key, what in ((b"not-the-key", "a wrong"), (b"", "a missing")):
    bad = Session(key=key, username="mallory")
    msg = bad.msg("execute_request", {"code": "pwned = 1", "silent": False, "store_history": True,
                                      "user_expressions": {}, "allow_stdin": False,
                                      "stop_on_error": True})
    bad.send(kc.shell_channel.socket, msg)
    time.sleep(0.3)
    rep, msgs = run("pwned == nil")
    check(result(msgs) == "true", f"a message with {what} signature is not run", msgs)
kc.shell_channel.socket.send_multipart([b"junk"] * 70)          # too many frames
kc.shell_channel.socket.send_multipart([b"no delimiter", b"{}"])  # malformed
time.sleep(0.3)
rep, msgs = run("1 + 2")
check(result(msgs) == "3", "malformed messages are refused and the kernel goes on", msgs)
log.flush()
logtext = open(log_path).read()
check("refused a message of more than 64 frames" in logtext and "refused a malformed message" in logtext,
      "malformed messages are logged", logtext)
check(logtext.count("refused a message with a") >= 2 and "bad signature" in logtext
      and "missing signature" in logtext, "refused messages are logged", logtext)

# ---- interrupt ---------------------------------------------------------------------------------------
for how in ("message", "signal"):
    msg_id = kc.execute("n = 0\nwhile true do n = n + 1 end")
    time.sleep(0.5)
    if how == "message":
        km.interrupt_kernel()          # interrupt_mode 'message': interrupt_request on control
    else:
        km.signal_kernel(signal.SIGINT)
    reply = kc.get_shell_msg(timeout=10)["content"]
    check(reply["status"] == "error" and reply["ename"] == "Interrupted",
          f"an interrupt ({how}) stops while true do end with an error", reply)
    rep, msgs = run("n > 0, 1 + 1")
    check(result(msgs) == "true\t2", f"the kernel answers after the interrupt ({how}), state kept", msgs)

for _ in range(5):
    km.signal_kernel(signal.SIGINT)   # while idle: nothing to stop, and nothing breaks
    time.sleep(0.05)
rep, msgs = run("'still here'")
check(result(msgs) == "'still here'" or result(msgs) == "still here", "SIGINT while idle is harmless", msgs)

# ---- restart, shutdown ---------------------------------------------------------------------------
km.restart_kernel(now=False)
kc.wait_for_ready(timeout=60)
rep, msgs = run("x == nil, 2 * 21")
check(result(msgs) == "true\t42", "after a restart the kernel answers with a fresh state", msgs)
proc = km.provisioner.process
kc.shutdown()
try:
    code = proc.wait(timeout=10)
except subprocess.TimeoutExpired:
    code = None
check(code == 0, "shutdown_request: the kernel exits with status 0", code)
kc.stop_channels()
km.cleanup_resources()

# ---- a kernel whose launcher died stops (JPY_PARENT_PID set, as a notebook server does) ----------
km2 = KernelManager(kernel_name="luacnn")
km2.write_connection_file()
p = subprocess.Popen(["sh", "-c", 'JPY_PARENT_PID=$$ "$0" kernel -f "$1" 2>/dev/null & echo $!; sleep 2',
                      EXE, km2.connection_file], stdout=subprocess.PIPE, text=True)
orphan = int(p.stdout.readline())
p.wait()


def gone(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return "State:\tZ" in f.read()
    except FileNotFoundError:
        return True


deadline = time.time() + 10
while not gone(orphan) and time.time() < deadline:
    time.sleep(0.1)
check(gone(orphan), "a kernel whose launcher is gone stops by itself")
if not gone(orphan):
    os.kill(orphan, signal.SIGKILL)
km2.cleanup_connection_file()

print(f"1..{checks}")
if failures:
    print("kernel log:\n" + open(log_path).read())
    print(f"FAILED {len(failures)} of {checks}: " + "; ".join(failures))
    sys.exit(1)
print(f"all {checks} checks passed")
shutil.rmtree(tmp, ignore_errors=True)
