"""The LuCI page's server side, stood in for: uhttpd serving the view and the stand-in runtime, and
uhttpd-mod-ubus + rpcd answering ubus JSON-RPC 2.0 on /ubus, with the rpcd ACL of luci-app-mip4 enforced.

Object `mip4` answers from a running status model (status/methods.py over tests/router/live.py);
object `uci` reads and writes a real /etc/config/mip4 with our UCI reader and writer.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mip4.status.methods import MethodError, call
from mip4.uci.syntax import dump, parse

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).parent
HTDOCS = ROOT / "luci-app/htdocs"
ACL = json.loads((ROOT / "luci-app/root/usr/share/rpcd/acl.d/luci-app-mip4.json").read_text())["luci-app-mip4"]
ACCESS_DENIED = -32002  # what rpcd answers when the session's ACL lacks the object or method


class LuciServer:
    def __init__(self, source: object, uci_file: Path) -> None:
        self.source = source
        self.uci_file = uci_file
        self.pending: dict[str, dict[str, dict]] = {}
        self.calls: list[tuple[str, str]] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d/" % self.httpd.server_address[1]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)

    # -- ubus ------------------------------------------------------------------------------------

    def allowed(self, obj: str, method: str, args: dict) -> bool:
        if obj == "uci":
            need = "read" if method == "get" else "write"
            return method in ("get", "set", "commit") and args.get("config") in ACL[need].get("uci", [])
        granted = ACL["read"]["ubus"].get(obj, []) + ACL["write"]["ubus"].get(obj, [])
        return method in granted

    def ubus(self, obj: str, method: str, args: dict) -> list:
        self.calls.append((obj, method))
        if obj == "mip4":
            try:
                return [0, call(self.source, method, args)]  # type: ignore[arg-type]
            except MethodError as e:
                return [e.code, {"error": str(e)}]
        sections = parse(self.uci_file.read_text())
        if method == "get":
            values = {}
            for i, s in enumerate(sections):
                values[s.name] = {".type": s.type, ".name": s.name, ".anonymous": s.anonymous, ".index": i, **s.options}
            return [0, {"values": values}]
        if method == "set":
            self.pending.setdefault(args["config"], {}).setdefault(args["section"], {}).update(args["values"])
            return [0]
        for name, options in self.pending.pop(args["config"], {}).items():  # commit
            target = next((s for s in sections if s.name == name), None)
            if target is None:
                return [4, {"error": "no section %s" % name}]  # UBUS_STATUS_NOT_FOUND
            target.options.update({k: str(v) for k, v in options.items()})
        self.uci_file.write_text(dump(sections))
        return [0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?")[0]
                if path == "/":
                    return self._send(200, (HERE / "index.html").read_bytes(), "text/html")
                if path == "/luci-static/resources/standin.js":
                    return self._send(200, (HERE / "standin.js").read_bytes(), "application/javascript")
                f = (HTDOCS / path.lstrip("/")).resolve()
                if path.startswith("/luci-static/") and f.is_file() and HTDOCS in f.parents:
                    return self._send(200, f.read_bytes(), "application/javascript")
                self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:  # noqa: N802
                req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                _sid, obj, method, args = req["params"]
                if not server.allowed(obj, method, args):
                    reply = {"jsonrpc": "2.0", "id": req["id"], "error": {"code": ACCESS_DENIED,
                                                                         "message": "Access denied"}}
                else:
                    reply = {"jsonrpc": "2.0", "id": req["id"], "result": server.ubus(obj, method, args)}
                self._send(200, json.dumps(reply, default=str).encode(), "application/json")

            def _send(self, code: int, body: bytes, kind: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
