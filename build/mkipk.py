#!/usr/bin/env python3
"""`make package`: the .ipk files of the feed (build/feed/), without the OpenWrt SDK.

Same layout as OpenWrt's scripts/ipkg-build: a gzipped tar holding ./debian-binary, ./data.tar.gz and
./control.tar.gz (control, conffiles, postinst, prerm); owner 0:0, names sorted, one mtime. Package
fields, conffiles and scripts come from the feed Makefile, so the SDK build and this one agree.
"""
from __future__ import annotations

import argparse
import gzip
import io
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON3_VERSION = "3.11"  # OpenWrt 23.05 and 24.10 (feeds/packages/lang/python/python3-version.mk)
SITE = "usr/lib/python%s/site-packages" % PYTHON3_VERSION

# what luci.mk writes as a LuCI app's postinst: drop LuCI's caches, reload rpcd (new ACL)
LUCI_POSTINST = """#!/bin/sh
[ -n "${IPKG_INSTROOT}" ] || {
	rm -f /tmp/luci-indexcache.*
	rm -rf /tmp/luci-modulecache/
	killall -HUP rpcd 2>/dev/null
	exit 0
}
"""


def makefile(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Top-level and define-block `NAME:=value` assignments, and each define block's body."""
    text = path.read_text().replace("\\\n", " ")
    values: dict[str, str] = {}
    blocks: dict[str, str] = {}
    for m in re.finditer(r"^define (\S+)\n(.*?)^endef", text, re.S | re.M):
        blocks[m.group(1)] = m.group(2)
    for m in re.finditer(r"^\s*([A-Z0-9_]+):=(.*)$", text, re.M):
        values.setdefault(m.group(1), m.group(2).strip())
    return values, blocks


def script(body: str) -> str:
    return body.replace("$$", "$")


def depends(spec: str) -> str:
    return ", ".join(d.lstrip("+") for d in spec.split())


class Package:
    def __init__(self, name: str, makefile_path: Path, mtime: int) -> None:
        self.name = name
        self.values, self.blocks = makefile(makefile_path)
        self.mtime = mtime
        self.files: dict[str, tuple[bytes, int]] = {}  # path in the image -> (content, mode)

    def add_tree(self, src: Path, dest: str) -> None:
        for p in sorted(src.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
                mode = 0o755 if os.access(p, os.X_OK) else 0o644
                name = p.relative_to(src).as_posix()
                self.files[dest.strip("/") + "/" + name if dest.strip("/") else name] = (p.read_bytes(), mode)

    def control(self, fields: dict[str, str]) -> str:
        size = sum(len(c) for c, _ in self.files.values())
        out = dict(fields, **{"Installed-Size": str(size)})
        desc = out.pop("Description").strip().splitlines()
        lines = ["%s: %s" % kv for kv in out.items()]
        lines.append("Description: " + " " + desc[0].strip())
        lines += [" " + d.strip() for d in desc[1:]]
        return "\n".join(lines) + "\n"

    def build(self, out_dir: Path, control: str, scripts: dict[str, str], conffiles: list[str], arch: str) -> Path:
        ctrl = {"control": (control.encode(), 0o644)}
        if conffiles:
            ctrl["conffiles"] = (("\n".join(conffiles) + "\n").encode(), 0o644)
        for name, body in scripts.items():
            ctrl[name] = (body.encode(), 0o755)
        version = "%s-%s" % (self.values["PKG_VERSION"], self.values["PKG_RELEASE"])
        outer = {"debian-binary": (b"2.0\n", 0o644), "data.tar.gz": (self._targz(self.files), 0o644),
                 "control.tar.gz": (self._targz(ctrl), 0o644)}
        path = out_dir / ("%s_%s_%s.ipk" % (self.name, version, arch))
        path.write_bytes(self._targz(outer, order=("debian-binary", "data.tar.gz", "control.tar.gz")))
        return path

    def _targz(self, files: dict[str, tuple[bytes, int]], order: tuple[str, ...] | None = None) -> bytes:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
            dirs: set[str] = set()
            for name in order or sorted(files):
                parts = name.split("/")[:-1]
                for i in range(1, len(parts) + 1):  # parent directories, as ipkg-build's tar lists them
                    d = "/".join(parts[:i])
                    if d not in dirs:
                        dirs.add(d)
                        tar.addfile(self._info("./" + d + "/", 0o755, tarfile.DIRTYPE))
                content, mode = files[name]
                tar.addfile(self._info("./" + name, mode, tarfile.REGTYPE, len(content)), io.BytesIO(content))
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=self.mtime, filename="") as gz:
            gz.write(raw.getvalue())
        return out.getvalue()

    def _info(self, name: str, mode: int, kind: bytes, size: int = 0) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.size, info.mtime = kind, mode, size, self.mtime
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info


def source_date_epoch() -> int:
    if "SOURCE_DATE_EPOCH" in os.environ:
        return int(os.environ["SOURCE_DATE_EPOCH"])
    p = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%ct"], capture_output=True, text=True)
    return int(p.stdout.strip() or 0)


def mip4(out: Path, mtime: int) -> Path:
    pkg = Package("mip4", ROOT / "build/feed/net/mip4/Makefile", mtime)
    v, b = pkg.values, pkg.blocks
    pkg.add_tree(ROOT / "firmware/mip4", SITE + "/mip4")
    pkg.add_tree(ROOT / "build/package/mip4/files", "")
    fields = {"Package": "mip4", "Version": "%s-%s" % (v["PKG_VERSION"], v["PKG_RELEASE"]),
              "Depends": depends(v["DEPENDS"]), "Source": "feeds/mip4/net/mip4", "SourceName": "mip4",
              "License": v["PKG_LICENSE"], "Section": v["SECTION"], "URL": v["URL"],
              "Maintainer": v["PKG_MAINTAINER"], "Architecture": "all", "Description": b["Package/mip4/description"]}
    fields["Description"] = v["TITLE"] + "\n" + fields["Description"]
    return pkg.build(out, pkg.control(fields), {"postinst": script(b["Package/mip4/postinst"]),
                                                 "prerm": script(b["Package/mip4/prerm"])},
                     b["Package/mip4/conffiles"].split(), "all")


def luci_app(out: Path, mtime: int) -> Path:
    pkg = Package("luci-app-mip4", ROOT / "build/feed/luci/luci-app-mip4/Makefile", mtime)
    v = pkg.values
    pkg.add_tree(ROOT / "luci-app/htdocs", "www")
    pkg.add_tree(ROOT / "luci-app/root", "")
    fields = {"Package": "luci-app-mip4", "Version": "%s-%s" % (v["PKG_VERSION"], v["PKG_RELEASE"]),
              "Depends": depends(v["LUCI_DEPENDS"]), "Source": "feeds/mip4/luci/luci-app-mip4",
              "SourceName": "luci-app-mip4", "License": v["PKG_LICENSE"], "Section": "luci",
              "Maintainer": v["PKG_MAINTAINER"], "Architecture": v["LUCI_PKGARCH"],
              "Description": v["LUCI_TITLE"]}
    return pkg.build(out, pkg.control(fields), {"postinst": LUCI_POSTINST}, [], v["LUCI_PKGARCH"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "build/out"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mtime = source_date_epoch()
    for path in (mip4(out, mtime), luci_app(out, mtime)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
