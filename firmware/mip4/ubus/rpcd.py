"""The `mip4` ubus object, as an rpcd exec plugin (/usr/libexec/rpcd/mip4): rpcd runs `mip4 list`
once to learn the methods, and `mip4 call METHOD` with the JSON arguments on stdin for each call.
Every call is forwarded to mip4d's control socket, where status/methods.py answers it.
"""
from __future__ import annotations

import json
import os
import sys

from ..io.control import DEFAULT_PATH, ControlClient, ControlError
from ..status.methods import INVALID_ARGUMENT, SIGNATURE

_EXAMPLE = {"int": 0, "string": "", "bool": False}  # rpcd reads each argument's type from an example value


def describe() -> dict:
    return {m: {a: _EXAMPLE[t] for a, t in args.items()} for m, args in SIGNATURE.items()}


def main(argv: list[str] | None = None, stdin: str | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["list"]:
        print(json.dumps(describe()))
        return 0
    if len(argv) != 2 or argv[0] != "call":
        print(json.dumps({"error": "usage: mip4 list | mip4 call METHOD (arguments as JSON on stdin)",
                          "code": INVALID_ARGUMENT}))
        return INVALID_ARGUMENT
    text = sys.stdin.read() if stdin is None else stdin
    try:
        args = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as e:
        print(json.dumps({"error": "arguments are not JSON: %s" % e.msg, "code": INVALID_ARGUMENT}))
        return INVALID_ARGUMENT
    client = ControlClient(os.environ.get("MIP4_CONTROL", DEFAULT_PATH))
    try:
        result = client.call(argv[1], args)
    except ControlError as e:
        print(json.dumps({"error": str(e), "code": e.code or 4}))  # 4: UBUS_STATUS_NOT_FOUND, no daemon
        return e.code or 4
    finally:
        client.close()
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
