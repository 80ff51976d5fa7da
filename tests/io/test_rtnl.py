"""mip4d imports only what it uses (issue 25): no ssl, sqlite3, ctypes or unittest.mock, and of pyroute2
only its rtnetlink part; yet the rest of pyroute2 and those modules stay importable in the process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("ssl", "_ssl", "sqlite3", "ctypes", "unittest.mock", "multiprocessing", "_hashlib", "pyroute2.ndb",
         "pyroute2.ipdb", "shutil", "bz2", "lzma", "pkgutil")
PROBE = """
import json, sys
import mip4.io.daemon, mip4.cli.mip4d
loaded = [m for m in %r if m in sys.modules]
count = sum(1 for m in sys.modules if m.startswith("pyroute2"))
from pyroute2 import Conntrack, IPRoute  # the rest of pyroute2, on demand
import ctypes, ssl, unittest.mock
from mip4.io import rtnl
print(json.dumps({"loaded": loaded, "pyroute2": count, "same": rtnl.IPRoute is IPRoute,
                  "real": [type(m).__name__ for m in (ctypes, ssl, unittest.mock)], "mock": str(unittest.mock.Mock)}))
""" % (HEAVY,)


def test_the_daemon_loads_no_tls_database_ffi_or_mock_module_and_little_of_pyroute2():
    env = dict(os.environ, PYTHONPATH="%s:%s" % (ROOT / "firmware", ROOT))
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
    got = json.loads(out.stdout)
    assert got["loaded"] == []
    assert got["pyroute2"] < 120  # all of it: 226
    assert got["same"] and got["real"] == ["module"] * 3 and "unittest.mock.Mock" in got["mock"]
