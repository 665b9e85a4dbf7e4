#!/usr/bin/env bash
# ctest jupyter/*: runs a Python test of the Jupyter kernel with a Python that has
# jupyter_client (and nbclient, nbformat for the notebooks). Where none has them, a venv is
# made in the build tree (JUPYTER_VENV) and they are installed from PyPI; without Python or
# without the network for pip the test is skipped (exit 77, "SKIPPED: ...").
# test_lab.py also needs JupyterLab itself, installed the same way.
#   run_test.sh TEST.py          with LUACNN_EXE and JUPYTER_VENV in the environment
set -u
test_py=$1
modules=(jupyter_client nbclient nbformat)
[ "$(basename "$test_py")" = test_lab.py ] && modules+=(jupyterlab)
want="import $(IFS=,; echo "${modules[*]}" | sed 's/,/, /g')"
python=""
for p in "${LUACNN_JUPYTER_PYTHON:-}" "${JUPYTER_VENV:-}/bin/python" python3; do
  [ -n "$p" ] || continue
  command -v "$p" >/dev/null 2>&1 || continue
  if "$p" -c "$want" >/dev/null 2>&1; then python=$p; break; fi
done
if [ -z "$python" ]; then
  if ! command -v python3 >/dev/null 2>&1; then
    echo "SKIPPED: $(basename "$test_py"): no python3 for the Jupyter client"
    exit 77
  fi
  if [ -z "${JUPYTER_VENV:-}" ]; then
    echo "SKIPPED: $(basename "$test_py"): ${modules[*]} not installed (pip install them, or set LUACNN_JUPYTER_PYTHON)"
    exit 77
  fi
  echo "# installing ${modules[*]} from PyPI into $JUPYTER_VENV"
  # ctest -j runs the jupyter tests side by side: one of them makes the venv at a time
  mkdir -p "$(dirname "$JUPYTER_VENV")"
  (
    flock 9
    "$JUPYTER_VENV/bin/python" -c "$want" >/dev/null 2>&1 && exit 0
    { [ -x "$JUPYTER_VENV/bin/pip" ] || python3 -m venv "$JUPYTER_VENV"; } &&
      timeout 600 "$JUPYTER_VENV/bin/pip" install -q --retries 1 --timeout 20 "${modules[@]}"
  ) 9>"$JUPYTER_VENV.lock" 2>&1 | tail -5
  if ! "$JUPYTER_VENV/bin/python" -c "$want" >/dev/null 2>&1; then
    echo "SKIPPED: $(basename "$test_py"): could not install ${modules[*]} with pip (no network?)"
    exit 77
  fi
  python=$JUPYTER_VENV/bin/python
fi
exec "$python" "$test_py"
