"""UML's management console (the kernel's arch/um/drivers/mconsole.h protocol), from the host: one
datagram request on UML_DIR/UMID/mconsole, the reply's text. The lab uses it to learn which host pty
the board's serial line (ssl0=pts) was given: `config ssl0` answers "pts:/dev/pts/N"."""
from __future__ import annotations

import os
import socket
import struct
import tempfile

MAGIC, VERSION, MAX_DATA = 0xCAFEBABE, 2, 512


def request(path: str, command: str, timeout: float = 5.0) -> tuple[int, str]:
    """(err, text): err 0 is success."""
    data = command.encode()
    if len(data) > MAX_DATA:
        raise ValueError("mconsole command over %d octets" % MAX_DATA)
    me = os.path.join(tempfile.mkdtemp(prefix="mconsole-"), "sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.bind(me)
        s.settimeout(timeout)
        s.sendto(struct.pack("<III%ds" % MAX_DATA, MAGIC, VERSION, len(data), data), path)
        out, err = b"", 0
        while True:
            reply = s.recv(12 + MAX_DATA)
            err, more, n = struct.unpack("<III", reply[:12])
            out += reply[12:12 + n]
            if not more:
                return err, out.rstrip(b"\0").decode(errors="replace")
    finally:
        s.close()
        os.unlink(me)
        os.rmdir(os.path.dirname(me))


def serial_pty(uml_dir: str, umid: str, line: int = 0) -> str | None:
    """The host pty of serial line `line`, once the board has opened it; None before."""
    try:
        err, text = request(os.path.join(uml_dir, umid, "mconsole"), "config ssl%d" % line)
    except OSError:
        return None
    return text.split(":", 1)[1] if err == 0 and text.startswith("pts:/dev/") else None
