#!/usr/bin/env python3
"""`make package`: the .ipk files of the feed (build/feed/) that OpenWrt's SDK would build, without the SDK.

From each feed Makefile it takes what the SDK takes: the package variables, DEPENDS, conffiles, the
maintainer scripts it defines (none: OpenWrt's default postinst/prerm) and the install recipes, which it
runs with /bin/sh as make would ($(INSTALL_DIR), $(INSTALL_BIN), $(INSTALL_CONF), $(CP), $(1)). Then the
steps of OpenWrt's makefiles, in their order:

- python3-package.mk (Py3Package, Py3Build): the wheel of the package's pyproject/setup.py (setuptools'
  PEP 517 backend, as `python -m build --no-isolation --wheel`), installed with `installer` under /usr for
  PYTHON3_VERSION (build/python3-version.mk, a pinned copy of the packages feed's); NAME gets the filespec
  (site-packages) and usr/bin compiled to bytecode (`compileall -r 20 -b -d /`, legacy .pyc beside the
  sources, hash seed SOURCE_DATE_EPOCH), .py deleted, shebangs /usr/bin/python3; NAME-src gets the .py only.
  The bytecode must come from that Python's compiler: a host python3.14 when there is one, else CPython 3.14
  itself, compiled to WebAssembly (npm `pyodide` 314.x, run by node, from .deps/npm).
- pypi.mk: the sdist PYPI_NAME-PKG_VERSION.tar.gz (pip download, cached in .deps/pypi), checked against
  PKG_HASH.
- luci.mk: htdocs/ to /www, root/ to /.
- include/package-pack.mk and scripts/ipkg-build: control (Depends with the implicit libc first), the
  default postinst and prerm (which call default_postinst/default_prerm of /lib/functions.sh), conffiles
  that exist; a gzipped tar of ./debian-binary, ./data.tar.gz, ./control.tar.gz, GNU format, numeric owner
  0:0, names sorted, one mtime (SOURCE_DATE_EPOCH, else the last commit's time), Installed-Size the size
  of the uncompressed data tar.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEED = ROOT / "build/feed"
FEED_NAME = "mip4"  # feeds.conf: src-link mip4 .../build/feed
VERSION_MK = ROOT / "build/python3-version.mk"
PYODIDE = ROOT / ".deps/npm/node_modules/pyodide"
PYPI_CACHE = ROOT / ".deps/pypi"
PACKAGES = ("net/mip4", "lang/python/python-vici", "luci/luci-app-mip4")

# include/rules.mk
SHELL_VARS = {"INSTALL_DIR": "install -d -m0755", "INSTALL_BIN": "install -m0755", "INSTALL_DATA": "install -m0644",
              "INSTALL_CONF": "install -m0600", "CP": "cp -fpR", "LN": "ln -sf", "FIND": "find"}

# include/package-pack.mk: what every .ipk gets as postinst and prerm; a package's own postinst/prerm
# define becomes postinst-pkg/prerm-pkg, which default_postinst/default_prerm source
POSTINST = """#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_postinst $0 $@
"""
PRERM = """#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_prerm $0 $@
"""

# the Node script that runs CPython's compileall in Pyodide over host directories (argv: seed, dirs...)
PYODIDE_COMPILE = """
import { loadPyodide } from %s;
const [seed, ...dirs] = process.argv.slice(2);
const py = await loadPyodide({ env: { PYTHONHASHSEED: seed } });
let ok = true;
for (const [i, dir] of dirs.entries()) {
  py.FS.mkdirTree("/mnt/" + i);
  py.FS.mount(py.FS.filesystems.NODEFS, { root: dir }, "/mnt/" + i);
  ok = py.runPython(`import compileall
compileall.compile_dir("/mnt/${i}", maxlevels=20, ddir="/", legacy=True, quiet=1)`) && ok;
}
console.log(py.runPython("import sys; '%%d.%%d' %% sys.version_info[:2]"));
process.exit(ok ? 0 : 1);
"""


class BuildError(Exception):
    pass


def python3_version(path: Path = VERSION_MK) -> str:
    v = dict(re.findall(r"^(PYTHON3_VERSION_M\w+):=(\S+)", path.read_text(), re.M))
    return "%s.%s" % (v["PYTHON3_VERSION_MAJOR"], v["PYTHON3_VERSION_MINOR"])


class Makefile:
    """An OpenWrt package Makefile, read as far as the SDK's package.mk reads it for these packages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.dir = path.parent
        text = path.read_text()
        self.defines: dict[str, str] = {m.group(1): m.group(2).rstrip("\n")
                                        for m in re.finditer(r"^define (\S+)\n(.*?)^endef", text, re.S | re.M)}
        top = re.sub(r"^define .*?^endef\n?", "", text, flags=re.S | re.M).replace("\\\n", " ")
        self.vars: dict[str, str] = {}
        for m in re.finditer(r"^([A-Za-z0-9_]+)\s*:=(.*)$", top, re.M):
            self.vars[m.group(1)] = self.expand(m.group(2).strip())
        self.includes = re.findall(r"^include (\S+)", top, re.M)

    def package(self, name: str) -> dict[str, str]:
        """The NAME:= / NAME+= assignments of `define Package/name`."""
        out: dict[str, str] = {}
        body = self.defines.get("Package/" + name, "").replace("\\\n", " ")
        for m in re.finditer(r"^\s*([A-Z_]+)\s*(:=|\+=)(.*)$", body, re.M):
            value = self.expand(m.group(3).strip())
            out[m.group(1)] = (out.get(m.group(1), "") + " " + value).strip() if m.group(2) == "+=" else value
        return out

    def expand(self, s: str, extra: dict[str, str] | None = None) -> str:
        """$(VAR) and the few make functions these Makefiles use; $$ -> $."""
        env = {**SHELL_VARS, **self.vars, "MAKEFILE_LIST": str(self.path), **(extra or {})}
        out, i = [], 0
        while i < len(s):
            if s.startswith("$$", i):
                out.append("$")
                i += 2
            elif s.startswith("$(", i):
                depth, j = 1, i + 2
                while depth:
                    depth += {"(": 1, ")": -1}.get(s[j], 0)
                    j += 1
                out.append(self._call(self.expand(s[i + 2:j - 1], extra), env))
                i = j
            else:
                out.append(s[i])
                i += 1
        return "".join(out)

    @staticmethod
    def _call(inner: str, env: dict[str, str]) -> str:
        fn, _, arg = inner.partition(" ")
        funcs = {"abspath": lambda a: os.path.abspath(a), "realpath": lambda a: os.path.realpath(a),
                 "dir": lambda a: os.path.dirname(a) + "/", "lastword": lambda a: a.split()[-1]}
        if fn in funcs and arg:
            return funcs[fn](arg.strip())
        if inner not in env:
            raise BuildError("make variable $(%s) is not known to build/mkipk.py" % inner)
        return env[inner]

    def run(self, define: str, cwd: Path, extra: dict[str, str]) -> None:
        """A recipe (`define`), each line through /bin/sh with make's variables expanded, as make runs it."""
        for line in self.defines[define].splitlines():
            if line.strip():
                cmd = self.expand(line.strip(), extra)
                p = subprocess.run(["sh", "-ec", cmd], cwd=cwd, capture_output=True, text=True)
                if p.returncode:
                    raise BuildError("%s: %s: %s" % (define, cmd, p.stderr.strip()))


# -- python3-package.mk, pypi.mk ---------------------------------------------------------------------------


def pypi_source(mk: Makefile, into: Path) -> None:
    """pypi.mk's PKG_SOURCE into PKG_BUILD_DIR: the sdist from the cache (or pip download), hash-checked."""
    name, version = mk.vars["PYPI_NAME"], mk.vars["PKG_VERSION"]
    sdist = PYPI_CACHE / ("%s-%s.tar.gz" % (name, version))
    if not sdist.is_file():
        PYPI_CACHE.mkdir(parents=True, exist_ok=True)
        p = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                            "--no-deps", "--no-binary", ":all:", "--no-build-isolation", "-d", str(PYPI_CACHE),
                            "%s==%s" % (name, version)], capture_output=True, text=True)
        if p.returncode or not sdist.is_file():
            raise BuildError("pip download %s==%s (the sdist): %s" % (name, version, p.stderr.strip()))
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != mk.vars["PKG_HASH"]:
        raise BuildError("%s: sha256 %s, the Makefile's PKG_HASH is %s" % (sdist, digest, mk.vars["PKG_HASH"]))
    with tarfile.open(sdist) as t:
        t.extractall(into.parent, filter="data")
    (into.parent / ("%s-%s" % (name, version))).rename(into)


def py3build(src: Path, install_dir: Path, version: str) -> None:
    """Py3Build/Compile and Py3Build/Install: the wheel, installed under install_dir/usr for Python `version`."""
    wheels = src / "openwrt-build"
    code = "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    p = subprocess.run([sys.executable, "-c", code, str(wheels)], cwd=src, capture_output=True, text=True)
    if p.returncode:
        raise BuildError("building the wheel in %s: %s" % (src, p.stderr.strip()[-2000:]))
    try:
        from installer import install
        from installer.destinations import SchemeDictionaryDestination
        from installer.sources import WheelFile
    except ImportError:
        raise BuildError("no Python package `installer` in %s: build/setup-host installs it (pyproject.toml, "
                         "extra `test`); make package runs .venv/bin/python" % sys.executable) from None

    site = "/usr/lib/python%s/site-packages" % version
    scheme = {"purelib": site, "platlib": site, "headers": "/usr/include/python%s" % version,
              "scripts": "/usr/bin", "data": "/usr"}
    with WheelFile.open(wheels / p.stdout.strip().splitlines()[-1]) as wheel:
        dest = SchemeDictionaryDestination(scheme, interpreter=sys.executable, script_kind="posix",
                                           destdir=str(install_dir))
        install(wheel, dest, {})


def compile_all(dirs: list[Path], version: str, seed: int) -> None:
    """Python3/CompileAll with the compiler of Python `version`: a host pythonX.Y, else Pyodide's CPython."""
    host = shutil.which("python" + version)
    if "%d.%d" % sys.version_info[:2] == version:
        host = sys.executable
    env = dict(os.environ, PYTHONHASHSEED=str(seed))
    if host:
        for d in dirs:
            p = subprocess.run([host, "-m", "compileall", "-q", "-r", "20", "-b", "-d", "/", str(d)],
                               capture_output=True, text=True, env=env)
            if p.returncode:
                raise BuildError("compileall %s: %s%s" % (d, p.stdout, p.stderr))
        return
    mjs = PYODIDE / "pyodide.mjs"
    if not mjs.is_file() or not shutil.which("node"):
        raise BuildError("no Python %s to compile the bytecode with: neither python%s on PATH nor node and %s "
                         "(build/setup-host installs npm's pyodide)" % (version, version, PYODIDE))
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "compile.mjs"
        script.write_text(PYODIDE_COMPILE % json.dumps(mjs.as_uri()))
        p = subprocess.run(["node", str(script), str(seed), *map(str, dirs)], capture_output=True, text=True)
    if p.returncode or p.stdout.split()[-1:] != [version]:
        raise BuildError("compileall in Pyodide (Python %s wanted): %s%s" % (version, p.stdout, p.stderr))


def delete_empty_dirs(root: Path) -> None:
    for d in sorted((p for p in root.rglob("*") if p.is_dir() and not p.is_symlink()), key=lambda p: -len(p.parts)):
        if not any(d.iterdir()):
            d.rmdir()


def fix_shebang(path: Path) -> None:
    """Python3/FixShebang: a first line #!...python... becomes #!/usr/bin/python3."""
    lines = path.read_bytes().split(b"\n", 1)
    if re.match(rb"^#!.*python.*", lines[0]):
        path.write_bytes(b"#!/usr/bin/python3" + (b"\n" + lines[1] if len(lines) > 1 else b""))


def py3package_install(mk: Makefile, name: str, idir: Path, install_dir: Path, site: str) -> None:
    """Package/NAME/install and Package/NAME-src/install of Py3Package (before and after CompileAll)."""
    for d, src in ((idir, False), (idir.with_name(name + "-src"), True)):
        d.mkdir(parents=True)
        hook = "Py3Package/%s/install" % name
        if hook in mk.defines:
            mk.run(hook, mk.dir, {"1": str(d)})
        elif (install_dir / "usr/bin").is_dir():
            shutil.copytree(install_dir / "usr/bin", d / "usr/bin", symlinks=True)
        # Py3Package/filespec/Default: +|$(PYTHON3_PKG_DIR)
        shutil.copytree(install_dir / site.strip("/"), d / site.strip("/"), symlinks=True, dirs_exist_ok=True)
        for p in list(d.rglob("*")):
            if src and not p.is_dir() and p.suffix != ".py":
                p.unlink()  # Python3/DeleteNonSourceFiles
            elif not src and p.is_file() and p.suffix == ".exe":
                p.unlink()
        if src:
            delete_empty_dirs(d)


def py3package_finish(idir: Path) -> None:
    """After CompileAll: Python3/DeleteSourceFiles, DeleteEmptyDirs, FixShebang of usr/bin/*."""
    for p in list(idir.rglob("*.py")):
        if p.is_file():
            p.unlink()
    delete_empty_dirs(idir)
    for p in sorted((idir / "usr/bin").glob("*")) if (idir / "usr/bin").is_dir() else ():
        if p.is_file() and not p.is_symlink():
            fix_shebang(p)


# -- package-pack.mk, ipkg-build -------------------------------------------------------------------------


class Ipk:
    """One binary package: its Makefile's fields and its installed tree (IDIR)."""

    def __init__(self, name: str, mk: Makefile, fields: dict[str, str], description: str, idir: Path,
                 scripts: dict[str, str] | None = None, conffiles: list[str] = ()) -> None:
        self.name, self.mk, self.fields, self.description, self.idir = name, mk, fields, description, idir
        self.scripts = scripts or {}
        self.conffiles = list(conffiles)

    @property
    def version(self) -> str:
        return "%s-%s" % (self.mk.vars["PKG_VERSION"], self.mk.vars["PKG_RELEASE"])

    def depends(self) -> str:
        """package-defaults.mk's PKG_FIXUP_DEPENDS (+libc first) and package-pack.mk's filter_deps/mergelist."""
        deps = ["+libc"] + [d for d in self.fields.get("DEPENDS", "").split() if d != "+libc"]
        return ", ".join(d.lstrip("+") for d in deps if not d.startswith("@"))

    @property
    def arch(self) -> str:
        if self.fields.get("PKGARCH") != "all":  # else the SDK's target architecture, which is not known here
            raise BuildError("%s: %s has no PKGARCH:=all" % (self.mk.path, self.name))
        return "all"

    def control(self, installed_size: int, epoch: int) -> str:
        mk = self.mk
        rows = [("Package", self.name), ("Version", self.version), ("Depends", self.depends()),
                ("Source", "feeds/%s/%s" % (FEED_NAME, mk.dir.relative_to(FEED).as_posix())),
                ("SourceName", mk.vars["PKG_NAME"]), ("License", mk.vars.get("PKG_LICENSE", "")),
                ("LicenseFiles", mk.vars.get("PKG_LICENSE_FILES", "")), ("Section", self.fields.get("SECTION", "opt")),
                ("SourceDateEpoch", str(epoch)), ("URL", self.fields.get("URL", "")),
                ("Maintainer", mk.vars.get("PKG_MAINTAINER", "")),
                ("Architecture", self.arch), ("Installed-Size", str(installed_size))]
        text = "".join("%s: %s\n" % kv for kv in rows if kv[1])
        # printf "Description: "; echo "$DESCRIPTION" | sed -e 's,^[[:space:]]*, ,g'
        return text + "Description: " + "".join(" " + line.lstrip() + "\n" for line in self.description.split("\n"))

    def build(self, out: Path, epoch: int) -> Path:
        for c in self.conffiles:  # package-pack.mk: a conffile the package does not install is kept by sysupgrade
            if not (self.idir / c.lstrip("/")).is_file():
                keep = self.idir / "lib/upgrade/keep.d" / self.name
                keep.parent.mkdir(parents=True, exist_ok=True)
                with keep.open("a") as f:
                    f.write(c + "\n")
        data = tar(self.idir, epoch)
        ctl = Path(tempfile.mkdtemp(prefix="CONTROL.", dir=self.idir.parent))
        (ctl / "control").write_text(self.control(len(data), epoch))
        scripts = {"postinst": POSTINST, "prerm": PRERM, **self.scripts}
        for name, body in scripts.items():
            (ctl / name).write_text(body)
            (ctl / name).chmod(0o755)
        present = sorted(c for c in self.conffiles if (self.idir / c.lstrip("/")).is_file())  # ipkg-build
        if present:
            (ctl / "conffiles").write_text("".join(c + "\n" for c in present))
        for p in ctl.iterdir():
            if p.name not in scripts:
                p.chmod(0o644)
        ctl.chmod(0o755)
        outer = {"debian-binary": b"2.0\n", "data.tar.gz": gz(data, epoch),
                 "control.tar.gz": gz(tar(ctl, epoch), epoch)}
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as t:
            for name in ("debian-binary", "data.tar.gz", "control.tar.gz"):
                t.addfile(info("./" + name, 0o644, tarfile.REGTYPE, epoch, len(outer[name])), io.BytesIO(outer[name]))
        path = out / ("%s_%s_%s.ipk" % (self.name, self.version, self.arch))
        path.write_bytes(gz(raw.getvalue(), epoch))
        return path


def info(name: str, mode: int, kind: bytes, mtime: int, size: int = 0) -> tarfile.TarInfo:
    i = tarfile.TarInfo(name)
    i.type, i.mode, i.size, i.mtime = kind, mode, size, mtime
    i.uid = i.gid = 0
    i.uname = i.gname = ""  # --numeric-owner
    return i


def tar(root: Path, mtime: int) -> bytes:
    """`tar --format=gnu --numeric-owner --sort=name -cf - --mtime=... .` of root (uncompressed)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as t:
        t.addfile(info("./", 0o755, tarfile.DIRTYPE, mtime))

        def walk(d: Path, rel: str) -> None:
            for p in sorted(d.iterdir(), key=lambda p: p.name.encode()):
                name, mode = rel + p.name, p.lstat().st_mode & 0o7777
                if p.is_symlink():
                    i = info(name, mode, tarfile.SYMTYPE, mtime)
                    i.linkname = os.readlink(p)
                    t.addfile(i)
                elif p.is_dir():
                    t.addfile(info(name + "/", mode, tarfile.DIRTYPE, mtime))
                    walk(p, name + "/")
                else:
                    content = p.read_bytes()
                    t.addfile(info(name, mode, tarfile.REGTYPE, mtime, len(content)), io.BytesIO(content))

        walk(root, "./")
    return raw.getvalue()


def gz(data: bytes, mtime: int) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as f:  # gzip -n
        f.write(data)
    return out.getvalue()


# -- the feed ------------------------------------------------------------------------------------------------


def own_scripts(mk: Makefile, name: str) -> dict[str, str]:
    """A package's own maintainer scripts (package-pack.mk's BuildPackVariable): preinst, postinst-pkg, ..."""
    out = {}
    for var, file in (("preinst", "preinst"), ("postinst", "postinst-pkg"), ("prerm", "prerm-pkg"),
                      ("postrm", "postrm")):
        if "Package/%s/%s" % (name, var) in mk.defines:
            out[file] = mk.expand(mk.defines["Package/%s/%s" % (name, var)]) + "\n"
    return out


def python_packages(mk: Makefile, work: Path, version: str) -> list[tuple[Ipk, Path]]:
    """A Py3Package Makefile: the package named in $(call Py3Package,NAME) and NAME-src."""
    name = re.search(r"\$\(call Py3Package,([^)]+)\)", mk.path.read_text()).group(1)
    build = work / "build" / mk.vars["PKG_NAME"]
    install_dir = build / "ipkg-install"
    if "PYPI_NAME" in mk.vars:
        build.parent.mkdir(parents=True, exist_ok=True)
        pypi_source(mk, build)
    else:
        mk.run("Build/Prepare", mk.dir, {"PKG_BUILD_DIR": str(build)})
    py3build(build, install_dir, version)
    site = "/usr/lib/python%s/site-packages" % version
    idir = work / "ipkg-all" / name
    extra = {"PKG_BUILD_DIR": str(build), "PKG_INSTALL_DIR": str(install_dir)}
    mk.vars.update(extra)
    py3package_install(mk, name, idir, install_dir, site)
    fields = mk.package(name)
    desc = mk.defines.get("Package/%s/description" % name, fields["TITLE"])
    conffiles = mk.defines.get("Package/%s/conffiles" % name, "").split()
    main = Ipk(name, mk, fields, desc, idir, own_scripts(mk, name), conffiles)
    src_fields = dict(fields, DEPENDS="", TITLE=fields["TITLE"] + " (sources)")
    src_desc = desc + "\n\n    This package contains the Python source files for %s." % name
    src = Ipk(name + "-src", mk, src_fields, src_desc, idir.with_name(name + "-src"), own_scripts(mk, name + "-src"))
    return [(main, idir), (src, None)]


def luci_package(mk: Makefile, work: Path) -> Ipk:
    """luci.mk: Package/$(PKG_NAME) from LUCI_*, install htdocs/ to /www and root/ to /."""
    name = mk.vars["PKG_NAME"]
    idir = work / "ipkg-all" / name
    idir.mkdir(parents=True)
    for sub, dest in (("htdocs", "www"), ("root", "")):
        if (mk.dir / sub).is_dir():
            subprocess.run(["sh", "-ec", 'mkdir -p "$2" && cp -pR "$1"/. "$2"/', "-", str(mk.dir / sub) + "/",
                            str(idir / dest)], check=True)
    fields = {"SECTION": "luci", "TITLE": mk.vars["LUCI_TITLE"], "DEPENDS": mk.vars.get("LUCI_DEPENDS", ""),
              "PKGARCH": mk.vars.get("LUCI_PKGARCH", "all")}
    desc = mk.vars.get("LUCI_DESCRIPTION", fields["TITLE"])
    return Ipk(name, mk, fields, desc, idir, own_scripts(mk, name))


def source_date_epoch() -> int:
    if "SOURCE_DATE_EPOCH" in os.environ:
        return int(os.environ["SOURCE_DATE_EPOCH"])
    p = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%ct"], capture_output=True, text=True)
    return int(p.stdout.strip() or 0)


def build_all(out: Path, epoch: int) -> list[Path]:
    version = python3_version()
    os.umask(0o022)
    with tempfile.TemporaryDirectory(prefix="mkipk.") as tmp:
        work = Path(tmp)
        ipks: list[Ipk] = []
        to_compile: list[Path] = []
        for rel in PACKAGES:
            mk = Makefile(FEED / rel / "Makefile")
            if any(i.endswith("python3-package.mk") for i in mk.includes):
                for ipk, compile_dir in python_packages(mk, work, version):
                    ipks.append(ipk)
                    if compile_dir:
                        to_compile.append(compile_dir)
            elif any(i.endswith("luci.mk") for i in mk.includes):
                ipks.append(luci_package(mk, work))
            else:
                raise BuildError("%s: neither a Py3Package nor a LuCI app" % mk.path)
        for d in to_compile:
            for p in d.rglob("*"):  # reproducible .pyc headers (they record the source's mtime)
                os.utime(p, (epoch, epoch), follow_symlinks=False)
        compile_all(to_compile, version, epoch)
        for d in to_compile:
            py3package_finish(d)
        return [ipk.build(out, epoch) for ipk in ipks]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "build/out"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        paths = build_all(out, source_date_epoch())
    except BuildError as e:
        print("mkipk: %s" % e, file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
