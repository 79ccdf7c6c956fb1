#!/usr/bin/env python3
"""Runs Codexion's notebooks in order against a running dev stack.

Each notebook's code cells run top to bottom in one namespace, using only the Python
standard library. The first failing cell stops the run with its source and traceback,
and the exit code is 1. Usage: run.py DIR_OR_NOTEBOOK...
"""
import json
import os
import sys
import time
import traceback
import urllib.request


def endpoints_ready(data_dir):
    path = os.path.join(data_dir, "endpoints.json")
    if not os.path.exists(path):
        return f"{path} does not exist: start the dev stack with `make run` first"
    with open(path) as f:
        ep = json.load(f)
    try:
        with urllib.request.urlopen(ep["http"] + "/livez", timeout=5) as r:
            r.read()
    except Exception as e:  # noqa: BLE001 - any failure means "not running"
        return f"the dev stack at {ep['http']} does not answer ({e}): start it with `make run` first"
    return None


def notebooks(args):
    for arg in args:
        if os.path.isdir(arg):
            for name in sorted(os.listdir(arg)):
                if name.endswith(".ipynb"):
                    yield os.path.join(arg, name)
        else:
            yield arg


def run(path):
    with open(path) as f:
        nb = json.load(f)
    namespace = {"__name__": "__main__", "__file__": path}
    cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    for i, cell in enumerate(cells, 1):
        src = "".join(cell.get("source", []))
        began = time.monotonic()
        try:
            exec(compile(src, f"{path}[cell {i}]", "exec"), namespace)
        except Exception:  # noqa: BLE001 - report any failure in the cell
            print(f"FAIL {path} cell {i}:\n{src}\n", file=sys.stderr)
            traceback.print_exc()
            return False
        print(f"  ok  cell {i}/{len(cells)} ({(time.monotonic() - began) * 1000:.0f} ms)")
    return True


def main():
    data_dir = os.environ.get("CODEXION_DATA_DIR", ".codexion")
    problem = endpoints_ready(data_dir)
    if problem:
        print("notebooks: " + problem, file=sys.stderr)
        return 2
    os.environ.setdefault("CODEXION_DATA_DIR", os.path.abspath(data_dir))
    os.environ.setdefault("CODEXION_REPO", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
    ran = 0
    for path in notebooks(sys.argv[1:] or ["notebooks"]):
        print(f"running {path}")
        if not run(path):
            return 1
        ran += 1
    print(f"{ran} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
