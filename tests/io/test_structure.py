"""The layering rules of the style guide for io (issue 22): imports run down only (wire <- core <-
config/status <- io <- ubus/console <- cli), and port 434 (RFC 5944 3.1) is the codec's constant alone."""
from __future__ import annotations

import ast
from pathlib import Path

import mip4

FIRMWARE = Path(mip4.__file__).resolve().parent  # the package under test
ABOVE_IO = ("ubus", "console", "cli")


def _imports(path: Path) -> list[str]:
    """Every module `path` imports, as a dotted name below mip4 ("ubus.netifd", "core.actions")."""
    package = path.relative_to(FIRMWARE).parent.parts
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[:len(package) - node.level + 1])
                out.append(".".join(base + ([node.module] if node.module else [])))
            elif node.module and node.module.startswith("mip4."):
                out.append(node.module[5:])
        elif isinstance(node, ast.Import):
            out += [a.name[5:] for a in node.names if a.name.startswith("mip4.")]
    return out


def test_io_imports_nothing_above_it():
    """io is below ubus, console and cli: who needs netifd's events wires them in (cli/mip4d.py)."""
    upward = {"%s: %s" % (p.name, m) for p in sorted((FIRMWARE / "io").glob("*.py")) for m in _imports(p)
              if m.split(".")[0] in ABOVE_IO}
    assert not upward


def test_port_434_is_defined_once_in_the_codec():
    """RFC 5944 3.1: one constant, wire.registration.PORT; nothing else assigns its own."""
    own = []
    for path in sorted(FIRMWARE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value == 434:
                own += ["%s: %s" % (path.relative_to(FIRMWARE), ast.unparse(t)) for t in node.targets]
    assert own == ["wire/registration.py: PORT"]


def test_the_daemon_entry_point_wires_netifd_in(monkeypatch, tmp_path):
    """The package's mip4d runs cli/mip4d.py, which hands io the netifd link source where a ubusd runs (R-3.2.2-a:
    a netifd ifdown still reaches the MN core; tests/router/test_owrt_mip4d.py runs it for real), and none where
    none does (the lab: rtnetlink and udhcpc)."""
    from mip4.cli import mip4d
    from mip4.io.settings import RouterOptions
    from mip4.ubus.netifd import NetifdEvents

    sock = tmp_path / "ubus.sock"
    monkeypatch.setenv("MIP4_UBUS_SOCKET", str(sock))
    assert mip4d.netifd(RouterOptions(netifd={"wan": "eth1"}), print, print, print) is None  # no ubusd
    assert mip4d.ubus_object(None) is None  # type: ignore[arg-type]
    sock.touch()
    assert mip4d.netifd(RouterOptions(), print, print, print) is None  # no netifd uplinks configured: none
    made = mip4d.netifd(RouterOptions(netifd={"wan": "eth1"}), print, print, print)
    assert isinstance(made, NetifdEvents) and made.netifd == {"wan": "eth1"} and made.socket_path == str(sock)
