"""OpenWrt's real userland on Debian, for the router tests: the ubusd, procd, rpcd, uhttpd, uci and
ucode/LuCI that build/owrt/userland builds from source into .deps/owrt/root, run in a private mount + PID +
network namespace whose root is a tmpfs skeleton with OpenWrt's paths (from ../shared/owrt/reference):

  /usr  overlay: LAYERS/usr : OWRT_ROOT/usr : Debian /usr   (Debian's python3, busybox, coreutils below)
  /etc  overlay: LAYERS/etc : OWRT_ROOT/etc : Debian /etc   (writable: /etc/config, /etc/rc.d)
  /www  overlay: LAYERS/www : OWRT_ROOT/www
  /bin /sbin /lib -> usr/...; /var -> tmp (as on OpenWrt); /tmp a fresh tmpfs; /proc of the new PID ns
  /bin/sh is busybox ash, as on OpenWrt (procd.sh and functions.sh need its bash-compat bits)

LAYERS are the contents (data.tar.gz) of mip4's .ipk files, as `make package` builds them (package_layers).
Nothing on the host changes; stop() (or the end of the `with`) kills every process inside and unmounts.

Still not OpenWrt (README, "What the router tests run"): Debian's python3 and glibc instead of OpenWrt's
python and musl, the host kernel, no netifd (its events are sent with the real `ubus send`), no logd,
hotplug or firewall; procd runs as a service manager, not as PID 1.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

# PID 1 of the new PID namespace: reaps orphans (daemons started by init scripts), exits on SIGTERM
_REAPER = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print('ready', flush=True)
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.2)
"""


class OpenWrt:
    def __init__(self, root: str | Path, run: str | Path, layers: list[str | Path] = (), env: dict | None = None,
                 binds: dict[str, str] | None = None, net: bool = True):
        self.root = Path(root).resolve()
        self.run = Path(run).resolve()
        self.layers = [Path(x).resolve() for x in layers]
        self.binds = dict(binds or {})  # host dir -> dir inside (read-only bind mounts)
        self.net = net  # own network namespace, joined to the host by a veth pair (self.address)
        self.address = ""
        self.env = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.pid = 0  # host PID of the namespace's PID 1

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> OpenWrt:
        f = self.run / "rootfs"
        f.mkdir(parents=True, exist_ok=True)

        def lower(sub: str, host: bool) -> str:
            dirs = [str(x / sub) for x in self.layers if (x / sub).is_dir()] + [str(self.root / sub)]
            return ":".join(dirs + (["/" + sub] if host else []))

        q = shlex.quote
        binds = "\n".join('mkdir -p "$F"%s && mount --bind -o ro %s "$F"%s' % (q(inside), q(host), q(inside))
                          for host, inside in self.binds.items())
        setup = f"""
set -e
F={q(str(f))}
mount -t tmpfs -o mode=0755 owrt "$F"
cd "$F"
mkdir -p .up/usr .up/etc .up/www .wk/usr .wk/etc .wk/www usr etc www proc sys dev tmp root overlay
ln -s usr/bin bin; ln -s usr/sbin sbin; ln -s usr/lib lib; ln -s usr/lib64 lib64; ln -s tmp var
mkdir -p .up/usr/bin && ln -s /usr/bin/busybox .up/usr/bin/sh
mount -t overlay owrt-usr -o lowerdir={q(lower('usr', True))},upperdir="$F/.up/usr",workdir="$F/.wk/usr" "$F/usr"
mount -t overlay owrt-etc -o lowerdir={q(lower('etc', True))},upperdir="$F/.up/etc",workdir="$F/.wk/etc" "$F/etc"
mount -t overlay owrt-www -o lowerdir={q(lower('www', False))},upperdir="$F/.up/www",workdir="$F/.wk/www" "$F/www"
mount -t proc proc "$F/proc"
mount --rbind /sys "$F/sys"
mount --rbind /dev "$F/dev"
mount -t tmpfs -o mode=1777 tmp "$F/tmp"
mkdir -p "$F/tmp/run/ubus" "$F/tmp/lock" "$F/tmp/state" "$F/tmp/.uci" "$F/etc/config" "$F/etc/rc.d"
{binds}
exec chroot "$F" /usr/bin/env -i PATH={PATH} /usr/bin/python3 -c {q(_REAPER)}
"""
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--pid", "--fork"]
                                     + (["--net"] if self.net else []) + ["sh", "-c", setup],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.wait(10)
            raise RuntimeError("OpenWrt sandbox did not start (exit %s)" % self.proc.returncode)
        children = Path("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)).read_text().split()
        self.pid = int(children[0])
        if self.net:
            self._veth()
        return self

    def _veth(self) -> None:
        """lo up inside; a veth pair host <-> sandbox in 198.18.0.0/15 (RFC 2544 benchmarking space): the
        host reaches the sandbox's uhttpd at self.address, and nothing inside reaches any other network."""
        n = self.pid % 16384
        host_ip, ns_ip = ("198.18.%d.%d" % (n // 64, (n % 64) * 4 + i) for i in (1, 2))
        hn, nn = "owh%d" % self.pid, "own%d" % self.pid
        run = lambda *c: subprocess.run(c, check=True, capture_output=True)  # noqa: E731
        run("ip", "link", "add", hn, "type", "veth", "peer", "name", nn, "netns", str(self.pid))
        run("ip", "addr", "add", host_ip + "/30", "dev", hn)
        run("ip", "link", "set", hn, "up")
        self.sh("ip link set lo up && ip link set %s name eth0 && ip addr add %s/30 dev eth0 && ip link set eth0 up"
                % (nn, ns_ip))
        self.address = ns_ip

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # unshare forwards nothing; kill PID 1 of the namespace instead
            try:
                os.kill(self.pid, 15)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, 9)
                self.proc.wait(10)

    def __enter__(self) -> OpenWrt:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inside ----------------------------------------------------------------------------------

    def cmd(self, argv: list[str]) -> list[str]:
        """argv as run inside the sandbox (its namespaces and root, a clean environment)."""
        env = ["%s=%s" % kv for kv in self.env.items()]
        ns = ["-m", "-p", "-r", "-w"] + (["-n"] if self.net else [])
        return ["nsenter", "-t", str(self.pid), *ns, "--", "/usr/bin/env", "-i", *env, *argv]

    def sh(self, script: str, check: bool = True, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
        """Run a busybox-ash script inside; stdout/stderr captured as text."""
        p = subprocess.run(self.cmd(["/bin/sh", "-c", script]), capture_output=True, text=True,
                           timeout=timeout, **kw)
        if check and p.returncode != 0:
            raise AssertionError("in sandbox: %s\nexit %d\n%s%s" % (script, p.returncode, p.stdout, p.stderr))
        return p

    def spawn(self, argv: list[str], **kw) -> subprocess.Popen:
        """A long-running process inside (e.g. `ubus listen`), as a Popen on the host."""
        return subprocess.Popen(self.cmd(argv), **kw)

    def path(self, p: str) -> Path:
        """The host's path to the sandbox's file p (through /proc/PID/root)."""
        return Path("/proc/%d/root" % self.pid) / p.lstrip("/")

    @property
    def ubus_socket(self) -> str:
        return str(self.path("/var/run/ubus/ubus.sock"))

    def wait_for(self, fn, what: str, limit: float = 10.0):  # noqa: ANN001, ANN201
        end = time.monotonic() + limit
        while True:
            got = fn()
            if got:
                return got
            if time.monotonic() > end:
                raise AssertionError("sandbox: never saw " + what)
            time.sleep(0.05)

    def boot(self) -> None:
        """ubusd and procd, as OpenWrt has them once booted (procd here only manages services)."""
        self.sh("ubusd >/tmp/ubusd.log 2>&1 &")
        self.wait_for(lambda: self.path("/var/run/ubus/ubus.sock").exists(), "ubusd's socket")
        self.sh("procd -S >/tmp/procd.log 2>&1 &")
        self.wait_for(lambda: self.sh("ubus list service", check=False).returncode == 0, "procd on ubus")


# -- the built userland and mip4's packages ----------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
OWRT_ROOT = REPO / ".deps/owrt/root"
PASSWORD = "mip4-test-password"

RPCD_CONFIG = """
config rpcd
	option socket /var/run/ubus/ubus.sock
	option timeout 30

config login
	option username 'root'
	option password '{hash}'
	list read '*'
	list write '*'

config login
	option username 'viewer'
	option password '{hash}'
	list read 'luci-base'
	list read 'luci-app-mip4'
"""

UHTTPD_CONFIG = """
config uhttpd main
	list listen_http 0.0.0.0:80
	option home /www
	option rfc1918_filter 0
	option cgi_prefix /cgi-bin
	list ucode_prefix '/cgi-bin/luci=/usr/share/ucode/luci/uhttpd.uc'
	option ubus_prefix /ubus
	option script_timeout 60
	option network_timeout 30
	option http_keepalive 20
	option tcp_keepalive 1
"""


def userland() -> Path:
    """The staging root of OpenWrt's userland, built (or taken from the cache) by build/owrt/userland."""
    subprocess.run([str(REPO / "build/owrt/userland")], check=True)
    return OWRT_ROOT


def package_layers(out: Path) -> list[Path]:
    """`make package` into out, and each .ipk's data.tar.gz unpacked into its own folder (mip4 first)."""
    import tarfile

    subprocess.run([sys.executable, str(REPO / "build/mkipk.py"), "--out", str(out / "ipk")], check=True,
                   capture_output=True)
    layers = []
    for ipk in sorted((out / "ipk").glob("*.ipk"), key=lambda p: not p.name.startswith("mip4_")):
        dest = out / "layers" / ipk.name.split("_")[0]
        dest.mkdir(parents=True)
        with tarfile.open(ipk) as outer:
            data = outer.extractfile("./data.tar.gz")
            with tarfile.open(fileobj=data) as inner:
                inner.extractall(dest, filter="tar")
        layers.append(dest)
    return layers


def site_packages() -> str:
    """The venv's site-packages (pyroute2, vici, ubus, ...), bound read-only into the sandbox."""
    return str(Path(sys.prefix) / ("lib/python%d.%d/site-packages" % sys.version_info[:2]))


def with_packages(root: Path, run: Path, layers: list[Path], net: bool = True) -> OpenWrt:
    """A sandbox with mip4's packages laid over the userland, and the venv's site-packages (pyroute2, the
    ubus binding, ...) where Debian's python3 finds them. mip4 is where the .ipk files put it: OpenWrt's
    python3 version (bytecode in mip4, the .py files in mip4-src, which Debian's python3 here runs)."""
    site = next(layers[0].glob("usr/lib/python3*/site-packages")).relative_to(layers[0]).as_posix()
    return OpenWrt(root, run, layers=layers, net=net, env={"PYTHONPATH": "/" + site},
                   binds={site_packages(): "/usr/local/lib/python%d.%d/dist-packages" % sys.version_info[:2]})


def start_web(ow: OpenWrt) -> None:
    """rpcd and uhttpd through their real init scripts, with a root and a read-only `viewer` login."""
    crypt = ow.sh("uhttpd -m %s" % PASSWORD).stdout.strip()  # uhttpd's own crypt(3) helper
    ow.path("/etc/config/rpcd").write_text(RPCD_CONFIG.format(hash=crypt))
    ow.path("/etc/config/uhttpd").write_text(UHTTPD_CONFIG)
    ow.sh("/etc/init.d/rpcd start && /etc/init.d/uhttpd start")
    # rpcd registers session, uci, ..., its exec plugins, then its library plugins (ucode: luci)
    ow.wait_for(lambda: ow.sh("ubus list luci", check=False).returncode == 0, "rpcd with its plugins")
    ow.wait_for(lambda: _http_up("http://%s/" % ow.address), "uhttpd")


def _http_up(url: str) -> bool:
    import urllib.request

    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError:
        return False


def rpc(ow: OpenWrt, sid: str, obj: str, method: str, args: dict | None = None) -> dict:
    """One ubus call through uhttpd's JSON-RPC endpoint, as LuCI makes it."""
    import json
    import urllib.request

    body = {"jsonrpc": "2.0", "id": 1, "method": "call", "params": [sid, obj, method, args or {}]}
    req = urllib.request.Request("http://%s/ubus" % ow.address, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=20))


def login(ow: OpenWrt, user: str) -> str:
    """An rpcd session id for user (root or viewer)."""
    r = rpc(ow, "0" * 32, "session", "login", {"username": user, "password": PASSWORD})
    return r["result"][1]["ubus_rpc_session"]
