"""Line editing for a serial terminal (VT100): typing, backspace, Ctrl-U, Ctrl-C, history with the
up/down arrows. Pure: bytes in, (bytes to echo, finished lines) out."""
from __future__ import annotations

ESC = 0x1B
BACKSPACES = (0x08, 0x7F)
CTRL_C, CTRL_U = 0x03, 0x15
HISTORY = 50
MAX_LINE = 1024


class LineEditor:
    def __init__(self, prompt: str = "mip4> ") -> None:
        self.prompt = prompt
        self.line = ""
        self.history: list[str] = []
        self.pos = 0  # index into history while browsing; len(history) is the line being typed
        self.draft = ""
        self.esc = b""  # an escape sequence in progress
        self.last_cr = False

    def feed(self, data: bytes) -> tuple[bytes, list[str]]:
        echo, lines = bytearray(), []
        for b in data:
            if self.esc:
                self.esc += bytes([b])
                if len(self.esc) >= 3 or (len(self.esc) == 2 and b != ord("[")):
                    echo += self._escape(self.esc)
                    self.esc = b""
                continue
            if b == ESC:
                self.esc = b"\x1b"
            elif b in (0x0D, 0x0A):
                if b == 0x0A and self.last_cr:  # CR LF is one Enter
                    self.last_cr = False
                    continue
                echo += b"\r\n"
                lines.append(self._enter())
            elif b in BACKSPACES:
                if self.line:
                    self.line = self.line[:-1]
                    echo += b"\b \b"
            elif b == CTRL_U:
                echo += self._replace("")
            elif b == CTRL_C:
                self.line, self.pos = "", len(self.history)
                echo += b"^C\r\n" + self.prompt.encode()
            elif 0x20 <= b < 0x7F and len(self.line) < MAX_LINE:
                self.line += chr(b)
                echo.append(b)
            self.last_cr = b == 0x0D
        return bytes(echo), lines

    def _enter(self) -> str:
        line, self.line = self.line.strip(), ""
        if line and (not self.history or self.history[-1] != line):
            self.history = (self.history + [line])[-HISTORY:]
        self.pos, self.draft = len(self.history), ""
        return line

    def _escape(self, seq: bytes) -> bytes:
        if seq == b"\x1b[A" and self.pos > 0:  # up: older
            if self.pos == len(self.history):
                self.draft = self.line
            self.pos -= 1
            return self._replace(self.history[self.pos])
        if seq == b"\x1b[B" and self.pos < len(self.history):  # down: newer, then the draft
            self.pos += 1
            return self._replace(self.history[self.pos] if self.pos < len(self.history) else self.draft)
        return b""

    def _replace(self, text: str) -> bytes:
        self.line = text
        return b"\r\x1b[K" + self.prompt.encode() + text.encode()
