"""JupyterLab in headless Chromium: open examples/notebooks/lenet.ipynb (a copy) on the luacnn
kernel, run all cells as a user would (click into the first cell, Shift+Enter through them), then check the page's DOM (an `img` in
an output area: the inline training curve; the summary's table) and save a screenshot
(LUACNN_SCREENSHOT, default: the build's temp dir). Chromium is driven through its DevTools
protocol with tornado's websocket client (tornado comes with JupyterLab).

Skipped (77) without Debian's chromium, without the jupyterlab Python package, or without
Fashion-MNIST under $LUACNN_DATA."""
import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

EXE = os.environ["LUACNN_EXE"]
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
data = os.environ.get("LUACNN_DATA", "")
chromium = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    import jupyterlab  # noqa: F401
    from tornado.websocket import websocket_connect
except ImportError as e:
    print(f"SKIPPED: jupyter/test_lab needs the jupyterlab Python package ({e})")
    sys.exit(77)
if not chromium:
    print("SKIPPED: jupyter/test_lab needs Debian's chromium")
    sys.exit(77)
if not os.path.isdir(os.path.join(data, "fashion-mnist")):
    print(f"SKIPPED: jupyter/test_lab needs $LUACNN_DATA/fashion-mnist ({data!r})")
    sys.exit(77)
if subprocess.run([EXE, "kernel", "-h"], capture_output=True).returncode == 69:
    print("SKIPPED: jupyter/test_lab: this luacnn was built without the kernel")
    sys.exit(77)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


tmp = tempfile.mkdtemp(prefix="luacnn-lab-")
shot = os.environ.get("LUACNN_SCREENSHOT", os.path.join(tmp, "lenet-lab.png"))
subprocess.run([EXE, "kernel", "install", "--prefix", tmp], check=True, capture_output=True)
work = os.path.join(tmp, "notebooks")
os.makedirs(work)
shutil.copy(os.path.join(SOURCE, "examples", "notebooks", "lenet.ipynb"), work)
env = dict(os.environ, JUPYTER_PATH=os.path.join(tmp, "share", "jupyter"),
           JUPYTER_DATA_DIR=os.path.join(tmp, "data"), JUPYTER_RUNTIME_DIR=os.path.join(tmp, "rt"),
           JUPYTER_CONFIG_DIR=os.path.join(tmp, "config"), HOME=tmp)
lab_port, cdp_port, token = free_port(), free_port(), "luacnn-test-token"
lab_log = open(os.path.join(tmp, "lab.log"), "w")
lab = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={lab_port}",
                        "--ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
                        "--allow-root", "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
                       env=env, stdout=lab_log, stderr=lab_log)
browser = subprocess.Popen([chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                            "--disable-dev-shm-usage", f"--remote-debugging-port={cdp_port}",
                            f"--user-data-dir={os.path.join(tmp, 'chrome')}", "--window-size=1280,1700",
                            "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

failures, checks = [], 0


def check(cond, what, detail=""):
    global checks
    checks += 1
    print(f"{'ok' if cond else 'not ok'} {checks} - {what}")
    if not cond:
        print(f"    {str(detail)[:3000]}")
        failures.append(what)


def wait_http(url, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            return urllib.request.urlopen(url, timeout=2).read()
        except Exception:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer")


class Page:
    def __init__(self, ws):
        self.ws, self.n = ws, 0

    async def call(self, method, **params):
        self.n += 1
        my = self.n
        await self.ws.write_message(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            msg = json.loads(await self.ws.read_message())
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    async def js(self, expr):
        r = await self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        return r.get("result", {}).get("value")

    async def wait_for(self, expr, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if await self.js(expr):
                return True
            await asyncio.sleep(0.5)
        raise RuntimeError(f"timed out waiting for {what}")

    async def click(self, selector):
        box = await self.js(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            if (!e) return null; const r = e.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
        if not box:
            raise RuntimeError(f"nothing matches {selector}")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left",
                            clickCount=1)


async def drive():
    wait_http(f"http://127.0.0.1:{lab_port}/api/status?token={token}")
    targets = json.loads(wait_http(f"http://127.0.0.1:{cdp_port}/json/list"))
    page_ws = [t for t in targets if t.get("type") == "page"][0]["webSocketDebuggerUrl"]
    page = Page(await websocket_connect(page_ws, max_message_size=64 << 20))
    await page.call("Page.enable")
    await page.call("Page.navigate", url=f"http://127.0.0.1:{lab_port}/lab/tree/lenet.ipynb?token={token}")
    await page.wait_for("document.querySelectorAll('.jp-Notebook .jp-Cell').length >= 5", 120, "the notebook")
    # the kernel is up when the status bar's kernel name is there and the notebook is idle
    await page.wait_for("!!document.querySelector('.jp-Notebook') && "
                        "document.body.innerText.includes('luacnn (Lua 5.4)')", 60, "the luacnn kernel")
    await asyncio.sleep(2)
    global debug_page
    debug_page = page
    # run every cell as a user does: click into the first cell, then Shift+Enter through them
    ncells = await page.js("document.querySelectorAll('.jp-Notebook .jp-Cell').length")
    await page.click(".jp-Notebook .jp-Cell .jp-InputArea")
    await page.call("Input.dispatchKeyEvent", type="rawKeyDown", key="Escape", code="Escape",
                    windowsVirtualKeyCode=27)
    await page.call("Input.dispatchKeyEvent", type="keyUp", key="Escape", code="Escape", windowsVirtualKeyCode=27)
    for _ in range(ncells):
        await page.call("Input.dispatchKeyEvent", type="rawKeyDown", key="Enter", code="Enter",
                        windowsVirtualKeyCode=13, modifiers=8)
        await page.call("Input.dispatchKeyEvent", type="keyUp", key="Enter", code="Enter",
                        windowsVirtualKeyCode=13, modifiers=8)
        await asyncio.sleep(0.3)
    done = ("(() => { const p = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]"
            ".map(e => e.textContent.trim()); return p.filter(t => /\\[\\d+\\]/.test(t)).length >= 4; })()")
    await page.wait_for(done, 300, "all cells to run")
    await asyncio.sleep(1)
    dom = await page.js("""(() => ({
        imgs: [...document.querySelectorAll('.jp-OutputArea-output img')].map(i =>
                  [i.naturalWidth, i.naturalHeight, i.src.slice(0, 22)]),
        tables: [...document.querySelectorAll('.jp-OutputArea-output table')].map(t => t.rows.length),
        errors: document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').length,
        text: [...document.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText).join('\\n').slice(0, 4000),
        prompts: [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim()),
    }))()""")
    check(any(w == 560 and h == 350 and src.startswith("data:image/png") for w, h, src in dom["imgs"]),
          "JupyterLab shows the training curve inline: an img in an output area (560x350 PNG)", dom)
    check(any(rows >= 14 for rows in dom["tables"]), "the summary table is in the page", dom["tables"])
    check("test acc" in dom["text"] and "examples/sec" in dom["text"], "the training lines are in the page",
          dom["text"])
    # dismiss JupyterLab's news question, scroll the curve into view for the screenshot
    await page.js("""(() => { for (const b of document.querySelectorAll('.jp-toast-button, .Toastify button'))
                        if (b.textContent.trim() === 'No') b.click(); })()""")
    await page.js("document.querySelector('.jp-OutputArea-output img').scrollIntoView({block: 'center'})")
    await asyncio.sleep(0.5)
    png = base64.b64decode((await page.call("Page.captureScreenshot", format="png"))["data"])
    with open(shot, "wb") as f:
        f.write(png)
    print(f"# screenshot: {shot} ({len(png)} bytes)")


debug_page = None


async def main():
    try:
        await asyncio.wait_for(drive(), 600)
    except Exception:
        if debug_page:   # what the page showed when it failed
            png = base64.b64decode((await debug_page.call("Page.captureScreenshot", format="png"))["data"])
            with open(shot + ".failed.png", "wb") as f:
                f.write(png)
            print(f"# screenshot of the failure: {shot}.failed.png")
        raise


try:
    asyncio.run(main())
except Exception as e:
    check(False, "JupyterLab ran the notebook", f"{e}\n--- lab log:\n" + open(os.path.join(tmp, "lab.log")).read()[-3000:])
finally:
    browser.terminate()
    lab.terminate()
    try:
        lab.wait(timeout=20)
    except subprocess.TimeoutExpired:
        lab.kill()
    browser.wait(timeout=20)

print(f"1..{checks}")
if failures:
    print(f"FAILED {len(failures)} of {checks}: " + "; ".join(failures))
    sys.exit(1)
print(f"all {checks} checks passed")
shutil.rmtree(tmp, ignore_errors=True)
