"""`make package`: the .ipk files say what the feed Makefiles (build/feed) declare, as OpenWrt's SDK would
build them: names, control fields (Package, Version, Depends, Section, Architecture, ...), conffiles, the
file list (python3-package.mk's Py3Package of the wheel, plus the install recipe), bytecode that OpenWrt's
Python (3.14, CPython in Pyodide here) imports without sources, and OpenWrt's default postinst/prerm run
on the real userland sandbox (rc.common, functions.sh, procd): install enables and starts mip4 through
procd, removal stops and disables it, an image build only enables it.

The expectations are read from the Makefiles, pyproject.toml and the sources here, not from build/mkipk.py."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

from tests.router import owrt

ROOT = Path(__file__).resolve().parents[2]
FEED = ROOT / "build/feed"
PYODIDE = ROOT / ".deps/npm/node_modules/pyodide/pyodide.mjs"
MAKEFILES = {"mip4": "net/mip4", "python3-vici": "lang/python/python-vici", "luci-app-mip4": "luci/luci-app-mip4"}


def python3_version() -> str:
    mk = (ROOT / "build/python3-version.mk").read_text()
    return "%s.%s" % (re.search(r"^PYTHON3_VERSION_MAJOR:=(\d+)", mk, re.M).group(1),
                      re.search(r"^PYTHON3_VERSION_MINOR:=(\d+)", mk, re.M).group(1))


SITE = "usr/lib/python%s/site-packages" % python3_version()


# -- what the Makefiles declare (read here, independently of mkipk.py) ----------------------------------------


def makefile(rel: str) -> tuple[dict[str, str], dict[str, str]]:
    text = (FEED / rel / "Makefile").read_text()
    defines = dict(re.findall(r"^define (\S+)\n(.*?)^endef", text, re.S | re.M))
    top = re.sub(r"^define .*?^endef", "", text, flags=re.S | re.M).replace("\\\n", " ")
    return dict(re.findall(r"^(\w+):=(.*)$", top, re.M)), defines


def declared(pkg: str) -> dict[str, str]:
    """Package, Version, Depends, Section, Architecture, License of a package as its Makefile declares it."""
    base = pkg.removesuffix("-src")
    v, d = makefile(MAKEFILES[base])
    if "LUCI_TITLE" in v:  # luci.mk
        fields = {"SECTION": "luci", "DEPENDS": v["LUCI_DEPENDS"], "PKGARCH": v["LUCI_PKGARCH"]}
    else:
        body = d["Package/" + base].replace("\\\n", " ")
        fields = {k: val.strip() for k, val in re.findall(r"^\s*(\w+):=(.*)$", body, re.M)}
    deps = [] if pkg.endswith("-src") else fields["DEPENDS"].split()  # Py3Package: -src has no DEPENDS
    return {"Package": pkg, "Version": "%s-%s" % (v["PKG_VERSION"], v["PKG_RELEASE"]),
            "Depends": ", ".join(["libc"] + [x.lstrip("+") for x in deps]),  # package-defaults.mk adds +libc
            "Section": fields["SECTION"], "Architecture": fields["PKGARCH"], "License": v["PKG_LICENSE"]}


# -- the built .ipk files -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(ipk_layers):
    """The .ipk files build/mkipk.py made for the sandbox's layers (conftest's ipk_layers: built once)."""
    return {path.name.split("_")[0]: path for path in (ipk_layers[0].parents[1] / "ipk").glob("*.ipk")}


def test_make_package_builds_the_same_files_again(built, tmp_path):
    """`make package` is build/mkipk.py, and reproducible: the same commit gives the same bytes."""
    p = subprocess.run(["make", "-s", "package", "PKG_OUT=%s" % tmp_path], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    again = {path.name: path.read_bytes() for path in tmp_path.glob("*.ipk")}
    assert again == {path.name: path.read_bytes() for path in built.values()}


def unpack(ipk: Path) -> tuple[list[str], dict[str, bytes], tarfile.TarFile, tarfile.TarFile]:
    outer = tarfile.open(ipk, "r:gz")
    names = outer.getnames()
    members = {n: outer.extractfile(n).read() for n in names}
    control = tarfile.open(fileobj=io.BytesIO(members["./control.tar.gz"]), mode="r:gz")
    data = tarfile.open(fileobj=io.BytesIO(members["./data.tar.gz"]), mode="r:gz")
    return names, members, control, data


def fields(control: tarfile.TarFile) -> dict[str, str]:
    out, key = {}, None
    for line in control.extractfile("./control").read().decode().splitlines():
        if line.startswith(" "):
            out[key] += "\n" + line[1:]
        else:
            key, value = line.split(": ", 1)
            out[key] = value
    return out


def files(data: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    return {m.name[2:]: m for m in data.getmembers() if m.isfile()}


def extract(ipk: Path, dest: Path) -> Path:
    _, _, _, data = unpack(ipk)
    data.extractall(dest, filter="tar")
    return dest


# -- layout and control ---------------------------------------------------------------------------------------


def test_one_ipk_per_package_of_the_feed_in_ipkg_builds_layout(built):
    expect = {p: declared(p) for p in ("mip4", "mip4-src", "python3-vici", "python3-vici-src", "luci-app-mip4")}
    assert sorted(p.name for p in built.values()) == sorted(
        "%s_%s_%s.ipk" % (p, f["Version"], f["Architecture"]) for p, f in expect.items())
    for ipk in built.values():
        names, members, control, data = unpack(ipk)
        assert names == ["./debian-binary", "./data.tar.gz", "./control.tar.gz"]  # ipkg-build's order
        assert members["./debian-binary"] == b"2.0\n"
        for t in (control, data):
            members_ = t.getmembers()
            assert all(m.uid == 0 and m.gid == 0 for m in members_)
            assert len({m.mtime for m in members_}) == 1  # --mtime: one time for all
            assert members_[0].name == "." and members_[0].isdir()  # tar -c . lists ./ first


def test_control_fields_are_the_makefiles(built):
    for pkg, ipk in built.items():
        _, members, control, _ = unpack(ipk)
        f = fields(control)
        want = declared(pkg)
        assert {k: f.get(k) for k in want} == want, pkg
        assert int(f["Installed-Size"]) == len(gzip.decompress(members["./data.tar.gz"]))  # ipkg-build: zcat | wc -c
    assert fields(unpack(built["mip4-src"])[2])["Description"].endswith(
        "This package contains the Python source files for mip4.")


def test_mip4_depends_on_what_it_uses_on_the_router(built):
    """Every Python module mip4 imports is in the Python it depends on, and the kernel and tools it uses."""
    deps = set(fields(unpack(built["mip4"])[2])["Depends"].split(", "))
    code = "\n".join(p.read_text() for p in (ROOT / "firmware/mip4").rglob("*.py"))
    imported = set(re.findall(r"^\s*(?:import|from) (\w+)", code, re.M))
    third_party = {"pyroute2": "python3-pyroute2", "vici": "python3-vici", "serial": "python3-pyserial",
                   "asyncio": "python3-asyncio", "logging": "python3-logging"}
    for module, pkg in third_party.items():
        assert module in imported and pkg in deps, module
    assert {"python3-light", "python3-ubus", "kmod-tun", "kmod-ipip", "kmod-ipsec", "kmod-ipsec4", "ip-full",
            "strongswan-minimal", "strongswan-mod-vici"} <= deps
    # why kmod-tun, ip-full, kmod-ipip
    assert "/dev/net/tun" in code and '"ip", "xfrm"' in code and 'kind="ipip"' in code


def test_default_maintainer_scripts_and_conffiles(built):
    for pkg, ipk in built.items():
        _, _, control, _ = unpack(ipk)
        got = {m.name[2:]: m for m in control.getmembers() if m.isfile()}
        post = control.extractfile("./postinst").read().decode()
        pre = control.extractfile("./prerm").read().decode()
        assert post.splitlines()[-2:] == [". ${IPKG_INSTROOT}/lib/functions.sh", "default_postinst $0 $@"], pkg
        assert pre.splitlines()[-2:] == [". ${IPKG_INSTROOT}/lib/functions.sh", "default_prerm $0 $@"], pkg
        assert got["postinst"].mode == got["prerm"].mode == 0o755
        want = {"control", "postinst", "prerm"} | ({"conffiles"} if pkg == "mip4" else set())
        assert set(got) == want, pkg  # no postinst-pkg/prerm-pkg: the Makefiles define no scripts of their own
    _, d = makefile("net/mip4")
    assert unpack(built["mip4"])[2].extractfile("./conffiles").read().decode() == d["Package/mip4/conffiles"]
    for rel in MAKEFILES.values():
        assert not re.search(r"^define Package/\S+/(postinst|prerm|preinst|postrm)$", (FEED / rel / "Makefile"
                                                                                       ).read_text(), re.M), rel


# -- file lists -----------------------------------------------------------------------------------------------


def recipe_files(define: str) -> dict[str, tuple[Path, int]]:
    """The files the install recipe installs: $(INSTALL_BIN|CONF|DATA) $(MIP4_FILES)/SRC $(1)/DIR/."""
    modes = {"INSTALL_BIN": 0o755, "INSTALL_CONF": 0o600, "INSTALL_DATA": 0o644}
    out = {}
    for kind, src, dest in re.findall(r"\$\((INSTALL_(?:BIN|CONF|DATA))\) \$\(MIP4_FILES\)/(\S+) \$\(1\)/(\S+)",
                                      define):
        path = dest + Path(src).name if dest.endswith("/") else dest
        out[path] = (ROOT / "build/package/mip4/files" / src, modes[kind])
    return out


def test_mip4_is_py3package_of_the_wheel_plus_the_recipe(built):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pkg_dir = ROOT / "firmware/mip4"
    sources = {p.relative_to(pkg_dir).as_posix() for p in pkg_dir.rglob("*.py") if "__pycache__" not in p.parts}
    data_files = {pattern for pattern in project["tool"]["setuptools"]["package-data"]["mip4"]}
    dist = "%s/mip4-%s.dist-info/" % (SITE, project["project"]["version"])
    scripts = {"usr/bin/" + s for s in project["project"]["scripts"]}
    _, d = makefile("net/mip4")
    recipe = recipe_files(d["Py3Package/mip4/install"])
    got = files(unpack(built["mip4"])[3])
    assert set(got) == ({"%s/mip4/%s" % (SITE, s[:-3] + ".pyc") for s in sources}  # compileall -b, .py deleted
                        | {"%s/mip4/%s" % (SITE, f) for f in data_files}
                        | {dist + f for f in ("METADATA", "RECORD", "WHEEL", "entry_points.txt", "top_level.txt")}
                        | scripts | set(recipe))
    assert set(recipe) == {"etc/init.d/mip4", "etc/config/mip4", "usr/bin/mip4d"}
    data = unpack(built["mip4"])[3]
    for path, (src, mode) in recipe.items():
        assert got[path].mode == mode, path
        assert data.extractfile("./" + path).read() == src.read_bytes(), path
    for path in scripts:
        text = data.extractfile("./" + path).read().decode()
        assert text.startswith("#!/usr/bin/python3\n") and got[path].mode == 0o755  # Python3/FixShebang
    # mip4d: the shell wrapper (SIGHUP ignored until its handler is in), running the packaged module
    wrapper = data.extractfile("./usr/bin/mip4d").read().decode()
    assert "trap '' HUP" in wrapper and "exec /usr/bin/python3 -m mip4.cli.mip4d" in wrapper
    assert (pkg_dir / "cli/mip4d.py").is_file()
    assert not any(p.startswith("usr/libexec/rpcd") for p in got)  # mip4d registers its ubus object itself
    src = files(unpack(built["mip4-src"])[3])
    assert set(src) == {"%s/mip4/%s" % (SITE, s) for s in sources}  # Python3/DeleteNonSourceFiles
    assert got["%s/mip4/io/udhcpc.script" % SITE].mode == 0o755


def test_python3_vici_is_the_pypi_sdist(built):
    v, _ = makefile("lang/python/python-vici")
    sdist = ROOT / (".deps/pypi/%s-%s.tar.gz" % (v["PYPI_NAME"], v["PKG_VERSION"]))
    assert hashlib.sha256(sdist.read_bytes()).hexdigest() == v["PKG_HASH"]
    with tarfile.open(sdist) as t:
        prefix = "%s-%s/vici/" % (v["PYPI_NAME"], v["PKG_VERSION"])
        modules = {n[len(prefix):] for n in t.getnames() if n.startswith(prefix) and n.endswith(".py")}
    assert modules and "session.py" in modules
    dist = "%s/vici-%s.dist-info/" % (SITE, v["PKG_VERSION"])
    assert set(files(unpack(built["python3-vici"])[3])) == (
        {"%s/vici/%s" % (SITE, m[:-3] + ".pyc") for m in modules}
        | {dist + f for f in ("LICENSE", "METADATA", "RECORD", "WHEEL", "top_level.txt")})
    assert set(files(unpack(built["python3-vici-src"])[3])) == {"%s/vici/%s" % (SITE, m) for m in modules}


def test_luci_app_installs_htdocs_and_root(built):
    app = FEED / "luci/luci-app-mip4"
    want = {"www/" + p.relative_to(app / "htdocs").as_posix() for p in (app / "htdocs").rglob("*") if p.is_file()}
    want |= {p.relative_to(app / "root").as_posix() for p in (app / "root").rglob("*") if p.is_file()}
    got = files(unpack(built["luci-app-mip4"])[3])
    assert want and set(got) == want
    data = unpack(built["luci-app-mip4"])[3]
    views = "www/luci-static/resources/view/mip4/"
    assert {views + "status.js", views + "settings.js", "usr/share/luci/menu.d/luci-app-mip4.json"} <= set(got)
    acl = json.load(data.extractfile("./usr/share/rpcd/acl.d/luci-app-mip4.json"))["luci-app-mip4"]
    assert acl["read"]["ubus"] == {"mip4": ["status", "log"]}
    assert acl["write"]["ubus"] == {"mip4": ["reregister"]}  # write: only reregister
    menu = json.load(data.extractfile("./usr/share/luci/menu.d/luci-app-mip4.json"))
    assert menu["admin/services/mip4"]["action"] == {"type": "alias", "path": "admin/services/mip4/status"}
    assert [menu["admin/services/mip4/" + v]["action"]["path"] for v in ("status", "settings")] == [
        "mip4/status", "mip4/settings"]


def test_feed_makefiles_have_the_sdk_form():
    mk = (FEED / "net/mip4/Makefile").read_text()
    for line in ("include $(TOPDIR)/rules.mk", "include $(INCLUDE_DIR)/package.mk",
                 "include $(TOPDIR)/feeds/packages/lang/python/python3-package.mk", "define Package/mip4\n",
                 "define Py3Package/mip4/install", "define Package/mip4/conffiles\n/etc/config/mip4\nendef",
                 "$(eval $(call Py3Package,mip4))", "$(eval $(call BuildPackage,mip4))",
                 "$(eval $(call BuildPackage,mip4-src))"):
        assert line in mk, line
    vici = (FEED / "lang/python/python-vici/Makefile").read_text()
    for line in ("PYPI_NAME:=vici", "include $(TOPDIR)/feeds/packages/lang/python/pypi.mk",
                 "$(eval $(call Py3Package,python3-vici))", "$(eval $(call BuildPackage,python3-vici-src))"):
        assert line in vici, line
    assert vici.index("pypi.mk") < vici.index("$(INCLUDE_DIR)/package.mk")  # pypi.mk before package.mk
    for rel in MAKEFILES.values():  # the Python version comes from python3-version.mk, never written here
        assert not re.search(r"python3\.\d", (FEED / rel / "Makefile").read_text()), rel
    assert "include $(TOPDIR)/feeds/luci/luci.mk" in (FEED / "luci/luci-app-mip4/Makefile").read_text()


# -- the bytecode, under OpenWrt's Python -------------------------------------------------------------------

PYODIDE_RUN = """
import { loadPyodide } from %s;
const [code, ...dirs] = process.argv.slice(2);
const py = await loadPyodide();
for (const [i, dir] of dirs.entries()) {
  py.FS.mkdirTree("/mnt/" + i);
  py.FS.mount(py.FS.filesystems.NODEFS, { root: dir }, "/mnt/" + i);
}
py.setStdout({ batched: (s) => console.log(s) });
try { py.runPython(code); } catch (e) { console.error(String(e)); process.exit(1); }
"""

CHECK_314 = """
import sys, contextlib, io
sys.path[:0] = ["/mnt/0/%(site)s", "/mnt/1/%(site)s"]
import mip4.cli, mip4.core, mip4.uci.config, vici
print("version", "%%d.%%d" %% sys.version_info[:2])
print("files", mip4.cli.__file__, vici.__file__)
print("co_filename", mip4.cli.main.__code__.co_filename)
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        mip4.cli.main(["config", "check", "/mnt/0/etc/config/mip4"])
    except SystemExit:
        pass
print("check", out.getvalue().strip())
"""


def test_bytecode_runs_without_sources_on_openwrts_python(built, tmp_path):
    """Sourceless legacy .pyc as OpenWrt installs them, imported by CPython 3.14 (Pyodide): the packaged
    code checks the packaged config; tracebacks name the router's paths (compileall -d /)."""
    mip4 = extract(built["mip4"], tmp_path / "mip4")
    vici = extract(built["python3-vici"], tmp_path / "vici")
    script = tmp_path / "run.mjs"
    script.write_text(PYODIDE_RUN % json.dumps(PYODIDE.as_uri()))
    p = subprocess.run(["node", str(script), CHECK_314 % {"site": SITE}, str(mip4), str(vici)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = dict(line.split(" ", 1) for line in p.stdout.splitlines())
    assert out["version"] == python3_version()
    assert out["files"] == "/mnt/0/%s/mip4/cli/__init__.pyc /mnt/1/%s/vici/__init__.pyc" % (SITE, SITE)
    assert out["co_filename"] == "/%s/mip4/cli/__init__.py" % SITE
    assert "OK, role mn" in out["check"]


def test_sources_package_runs_on_the_hosts_python(built, tmp_path):
    root = extract(built["mip4-src"], tmp_path)
    extract(built["mip4"], tmp_path)  # config and scripts; the host's python3 takes the .py beside the .pyc
    env = {"PYTHONPATH": str(root / SITE), "PATH": "/usr/bin:/bin"}
    p = subprocess.run([sys.executable, "-m", "mip4", "config", "check", str(root / "etc/config/mip4")],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert p.returncode == 0 and "OK, role mn" in p.stdout, p.stderr


# -- OpenWrt's default postinst/prerm on the real userland -----------------------------------------------------


def install_info(ow: owrt.OpenWrt, ipk: Path, root: str = "") -> None:
    """What opkg leaves in ROOT/usr/lib/opkg/info before it runs a package's postinst: NAME.list, the
    scripts (opkg runs them as ROOT/usr/lib/opkg/info/NAME.postinst configure)."""
    _, _, control, data = unpack(ipk)
    info = ow.path(root + "/usr/lib/opkg/info")
    info.mkdir(parents=True, exist_ok=True)
    name = fields(control)["Package"]
    (info / (name + ".list")).write_text("".join("/%s\n" % p for p in files(data)))
    for script in ("postinst", "prerm"):
        (info / ("%s.%s" % (name, script))).write_bytes(control.extractfile("./" + script).read())
        (info / ("%s.%s" % (name, script))).chmod(0o755)


def service(ow: owrt.OpenWrt) -> dict:
    return json.loads(ow.sh("ubus call service list '{\"name\": \"mip4\"}'").stdout or "{}")


@pytest.fixture
def booted(owrt_root, ipk_layers, tmp_path):
    with owrt.with_packages(owrt_root, tmp_path / "ow", ipk_layers, net=False) as sandbox:
        sandbox.boot()
        yield sandbox


def test_postinst_enables_and_starts_mip4_through_procd_and_prerm_stops_it(built, booted):
    ow = booted
    install_info(ow, built["mip4"])
    assert service(ow) == {} and not ow.path("/etc/rc.d/S95mip4").exists()
    ow.sh("/usr/lib/opkg/info/mip4.postinst configure")
    assert ow.path("/etc/rc.d/S95mip4").is_symlink() and ow.path("/etc/rc.d/K10mip4").is_symlink()
    instances = service(ow)["mip4"]["instances"]
    assert instances["instance1"]["command"][0] == "/usr/bin/mip4d"  # procd runs it
    ow.sh("/usr/lib/opkg/info/mip4.prerm remove")
    ow.wait_for(lambda: service(ow) == {}, "procd stopping mip4", limit=20)  # SIGTERM, mip4d deregisters
    assert not ow.path("/etc/rc.d/S95mip4").exists() and not ow.path("/etc/rc.d/K10mip4").exists()


def test_postinst_in_an_image_build_only_enables(built, booted):
    """IPKG_INSTROOT set (opkg -o, image builder): links in the image's /etc/rc.d, nothing started."""
    ow = booted
    ow.sh("mkdir -p /tmp/img/lib /tmp/img/etc/rc.d && cp -a /lib/functions.sh /lib/functions /tmp/img/lib/"
          " && cp -a /etc/rc.common /tmp/img/etc/")
    extract(built["mip4"], ow.path("/tmp/img"))
    install_info(ow, built["mip4"], "/tmp/img")
    ow.sh("IPKG_INSTROOT=/tmp/img /tmp/img/usr/lib/opkg/info/mip4.postinst configure")
    assert sorted(p.name for p in ow.path("/tmp/img/etc/rc.d").iterdir()) == ["K10mip4", "S95mip4"]
    assert service(ow) == {} and not ow.path("/etc/rc.d/S95mip4").exists()
    ow.sh("IPKG_INSTROOT=/tmp/img /tmp/img/usr/lib/opkg/info/mip4.prerm remove")
    assert not list(ow.path("/tmp/img/etc/rc.d").iterdir())  # image: disabled, nothing stopped


def test_ipkg_no_script_skips_the_postinst(built, booted):
    ow = booted
    install_info(ow, built["mip4"])
    ow.sh("IPKG_NO_SCRIPT=1 /usr/lib/opkg/info/mip4.postinst configure")
    assert service(ow) == {} and not ow.path("/etc/rc.d/S95mip4").exists()
