"""`make package`: the .ipk files, unpacked and checked: layout (OpenWrt's ipkg-build), every installed
path, every control field, and the maintainer scripts run against a root directory."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).with_name("standin")
SITE = "usr/lib/python3.11/site-packages"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("ipk")
    p = subprocess.run(["make", "-s", "package", "PKG_OUT=%s" % out], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return {path.name.split("_")[0]: path for path in out.glob("*.ipk")}


def unpack(ipk: Path) -> tuple[list[str], dict[str, bytes], tarfile.TarFile, tarfile.TarFile]:
    outer = tarfile.open(ipk, "r:gz")
    names = outer.getnames()
    members = {n: outer.extractfile(n).read() for n in names}
    control = tarfile.open(fileobj=io.BytesIO(members["./control.tar.gz"]), mode="r:gz")
    data = tarfile.open(fileobj=io.BytesIO(members["./data.tar.gz"]), mode="r:gz")
    return names, members, control, data


def fields(control: tarfile.TarFile) -> dict[str, str]:
    text = control.extractfile("./control").read().decode()
    out, key = {}, None
    for line in text.splitlines():
        if line.startswith(" "):
            out[key] += "\n" + line[1:]
        else:
            key, value = line.split(": ", 1)
            out[key] = value
    return out


def files(data: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    return {m.name[2:]: m for m in data.getmembers() if m.isfile()}


def test_names_and_outer_layout(built):
    assert sorted(p.name for p in built.values()) == ["luci-app-mip4_0.1.0-1_all.ipk", "mip4_0.1.0-1_all.ipk"]
    for ipk in built.values():
        names, members, control, data = unpack(ipk)
        assert names == ["./debian-binary", "./data.tar.gz", "./control.tar.gz"]  # ipkg-build's order
        assert members["./debian-binary"] == b"2.0\n"
        for t in (control, data):
            assert all(m.uid == 0 and m.gid == 0 for m in t.getmembers())


def test_mip4_control_fields_follow_the_feed_makefile(built):
    _, _, control, data = unpack(built["mip4"])
    f = fields(control)
    assert (f["Package"], f["Version"], f["Architecture"], f["Section"], f["License"]) == (
        "mip4", "0.1.0-1", "all", "net", "GPL-2.0-only")
    deps = f["Depends"].split(", ")
    for d in ("python3-light", "python3-pyroute2", "python3-pyserial", "strongswan-minimal", "strongswan-mod-vici",
              "strongswan-swanctl",
              "kmod-ipip", "kmod-ipsec", "ip-full"):
        assert d in deps
    assert f["Description"].lstrip().startswith("Mobile IPv4 mobile router across IPsec VPN gateways (RFC 5265)")
    assert int(f["Installed-Size"]) == sum(m.size for m in files(data).values())
    makefile = (ROOT / "build/feed/net/mip4/Makefile").read_text()
    assert "DEPENDS:=" + " ".join("+" + d for d in deps) in makefile
    assert sorted(control.getnames()) == ["./conffiles", "./control", "./postinst", "./prerm"]
    assert control.extractfile("./conffiles").read() == b"/etc/config/mip4\n"


def test_mip4_installs_every_path_and_nothing_else(built):
    _, _, _, data = unpack(built["mip4"])
    got = files(data)
    code = {"%s/mip4/%s" % (SITE, p.relative_to(ROOT / "firmware/mip4").as_posix())
            for p in (ROOT / "firmware/mip4").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    scripts = {"usr/bin/mip4", "usr/bin/mip4d", "etc/init.d/mip4", "usr/libexec/rpcd/mip4"}
    assert set(got) == code | scripts | {"etc/config/mip4"}
    assert "%s/mip4/io/udhcpc.script" % SITE in got and "%s/mip4/wire/codec.py" % SITE in got
    for path in scripts:
        assert got[path].mode == 0o755, path
    assert got["etc/config/mip4"].mode == 0o644
    assert data.extractfile("./etc/config/mip4").read() == (ROOT / "build/package/mip4/files/etc/config/mip4"
                                                             ).read_bytes()
    assert b"exec /usr/bin/python3 -m mip4.cli.mip4d" in data.extractfile("./usr/bin/mip4d").read()


def test_installed_tree_runs(built, tmp_path):
    """What the router runs: the packaged code checks the packaged config; the rpcd plugin lists mip4's methods."""
    _, _, _, data = unpack(built["mip4"])
    data.extractall(tmp_path, filter="data")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / SITE))
    p = subprocess.run([sys.executable, "-m", "mip4", "config", "check", str(tmp_path / "etc/config/mip4")],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert p.returncode == 0 and "OK, role mn" in p.stdout, p.stderr
    p = subprocess.run([sys.executable, "-m", "mip4.ubus.rpcd", "list"], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=60)
    assert sorted(json.loads(p.stdout)) == ["bindings", "interfaces", "log", "reregister", "status"]


def scripts_of(ipk: Path) -> dict[str, str]:
    _, _, control, _ = unpack(ipk)
    return {n[2:]: control.extractfile(n).read().decode() for n in control.getnames() if n[2:] in ("postinst", "prerm")}


def test_postinst_in_an_image_build_only_enables(built, tmp_path):
    root = tmp_path / "root"
    _, _, _, data = unpack(built["mip4"])
    data.extractall(root, filter="data")
    shutil.copy(STANDIN / "rc.common", root / "etc/rc.common")
    for name in ("functions.sh", "procd.sh"):
        shutil.copy(STANDIN / name, root / "etc" / name)
    s = scripts_of(built["mip4"])
    post = tmp_path / "postinst"
    post.write_text(s["postinst"])
    env = dict(os.environ, IPKG_INSTROOT=str(root), PROCD_LOG=str(tmp_path / "procd.log"))
    p = subprocess.run(["sh", str(post)], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(root / "etc/rc.d")) == ["K10mip4", "S95mip4"]
    assert not (tmp_path / "procd.log").exists()  # nothing started on the build host
    pre = tmp_path / "prerm"
    pre.write_text(s["prerm"])
    assert subprocess.run(["sh", str(pre)], env=env).returncode == 0
    assert sorted(os.listdir(root / "etc/rc.d")) == ["K10mip4", "S95mip4"]  # an image build removes nothing


def test_postinst_and_prerm_on_a_router_start_and_stop_the_service(built, tmp_path):
    """On the router (no IPKG_INSTROOT): /etc/init.d/mip4 enable+start, then stop+disable. /etc/init.d is a
    recorder here, bind-mounted in a mount namespace of the test's own."""
    initd = tmp_path / "init.d"
    initd.mkdir()
    calls = tmp_path / "calls"
    for name in ("mip4", "rpcd"):
        (initd / name).write_text("#!/bin/sh\necho %s \"$@\" >> %s\n" % (name, calls))
        (initd / name).chmod(0o755)
    s = scripts_of(built["mip4"])
    for name in ("postinst", "prerm"):
        (tmp_path / name).write_text(s[name])
    env = {k: v for k, v in os.environ.items() if k not in ("IPKG_INSTROOT", "IPKG_NO_SCRIPT")}
    cmd = "mount --bind %s /etc/init.d && sh %s && sh %s" % (initd, tmp_path / "postinst", tmp_path / "prerm")
    p = subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert calls.read_text().splitlines() == ["mip4 enable", "mip4 start", "rpcd reload", "mip4 stop", "mip4 disable"]
    calls.unlink()
    p = subprocess.run(["unshare", "-m", "sh", "-c", cmd], env=dict(env, IPKG_NO_SCRIPT="1"), timeout=60)
    assert p.returncode == 0 and not calls.exists()


def test_luci_app_package(built):
    _, _, control, data = unpack(built["luci-app-mip4"])
    f = fields(control)
    assert (f["Package"], f["Depends"], f["Architecture"], f["Section"]) == (
        "luci-app-mip4", "luci-base, mip4", "all", "luci")
    got = files(data)
    views = "www/luci-static/resources/view/mip4/"
    assert set(got) == {views + "status.js", views + "settings.js", "usr/share/luci/menu.d/luci-app-mip4.json",
                        "usr/share/rpcd/acl.d/luci-app-mip4.json"}
    acl = json.load(data.extractfile("./usr/share/rpcd/acl.d/luci-app-mip4.json"))["luci-app-mip4"]
    assert acl["read"]["ubus"] == {"mip4": ["status", "log"]}
    assert acl["write"]["ubus"] == {"mip4": ["reregister"]}  # write: only reregister
    menu = json.load(data.extractfile("./usr/share/luci/menu.d/luci-app-mip4.json"))
    assert menu["admin/services/mip4"]["action"] == {"type": "alias", "path": "admin/services/mip4/status"}
    assert [menu["admin/services/mip4/" + v]["action"]["path"] for v in ("status", "settings")] == [
        "mip4/status", "mip4/settings"]
    post = control.extractfile("./postinst").read().decode()
    assert "luci-indexcache" in post and "IPKG_INSTROOT" in post


def test_feed_makefiles_have_the_sdk_form():
    mk = (ROOT / "build/feed/net/mip4/Makefile").read_text()
    for line in ("include $(TOPDIR)/rules.mk", "include $(INCLUDE_DIR)/package.mk", "define Package/mip4\n",
                 "define Package/mip4/install", "define Package/mip4/conffiles\n/etc/config/mip4\nendef",
                 "$(eval $(call BuildPackage,mip4))"):
        assert line in mk
    for dest in ("/usr/bin", "/etc/config", "/etc/init.d", "/usr/libexec/rpcd", "/site-packages"):
        assert re.search(r"\$\(1\)%s" % re.escape(dest), mk) or "$(PYTHON3_VERSION)" + dest in mk, dest
    luci = ROOT / "build/feed/luci/luci-app-mip4"
    assert "include $(TOPDIR)/feeds/luci/luci.mk" in (luci / "Makefile").read_text()
    assert (luci / "htdocs/luci-static/resources/view/mip4/status.js").is_file()  # the links resolve
    assert (luci / "root/usr/share/rpcd/acl.d/luci-app-mip4.json").is_file()
