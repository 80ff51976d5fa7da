#!/bin/bash
# mip4's build step for OpenWrt's real userland (from ../shared/owrt/reference/build.sh, with the upstream
# fallback below). Called by build/owrt/userland, which caches the result in .deps/owrt.
#
# Builds OpenWrt's real userland (libubox, ubus, uci, ucode, jsonfilter, rpcd, uhttpd, procd, lucihttp,
# LuCI's ucode runtime) on Debian 12 with cmake, into one staging root with OpenWrt's layout (prefix /usr),
# and lays LuCI (luci-base, luci-theme-bootstrap) and OpenWrt's base-files shell library over it.
#
#   OWRT_SRC=DIR  sources: one folder (or DIR/NAME.tar.gz) per project, see SOURCES below; default ./src.
#                 A project missing there is downloaded from its upstream repository at the commit
#                 SOURCES.txt pins (GitHub's archive of that commit), into OUT/download.
#   OWRT_OUT=DIR  output: DIR/root (the staging root), DIR/build (cmake trees), DIR/build.log; default ./out
#   OWRT_JOBS=N   make -j (default 2); everything runs under nice -n 19
#
# Needs (Debian): build-essential cmake pkg-config libjson-c-dev libcrypt-dev (and python3-dev for the
# PyPI `ubus` binding). No network. Takes about 1.5 minutes on 2 cores.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(realpath -m "${OWRT_SRC:-$PWD/src}")
OUT=$(realpath -m "${OWRT_OUT:-$PWD/out}")
JOBS=${OWRT_JOBS:-2}
ROOT=$OUT/root
B=$OUT/build
LOG=$OUT/build.log
mkdir -p "$ROOT" "$B"
: > "$LOG"

# name -> upstream repository (the commit used is in SOURCES.txt beside this script)
SOURCES="libubox udebug ubus uci ucode jsonpath rpcd uhttpd procd lucihttp luci openwrt"

src() {  # src NAME: the source folder, unpacking NAME.tar.gz into $B/src first if that is what there is
	if [ -d "$SRC/$1" ]; then echo "$SRC/$1"; return; fi
	if [ -f "$SRC/$1.tar.gz" ]; then
		[ -d "$B/src/$1" ] || { mkdir -p "$B/src/$1" && tar -xzf "$SRC/$1.tar.gz" -C "$B/src/$1"; }
		echo "$B/src/$1"; return
	fi
	# not mirrored here: the upstream repository at the pinned commit (SOURCES.txt)
	local repo commit tgz
	read -r repo commit < <(awk -v n="$1" '$1 == n {print $2, $3}' "$HERE/SOURCES.txt")
	[ -n "$commit" ] || { echo "build.sh: $1 is not in SOURCES.txt" >&2; exit 1; }
	tgz="$OUT/download/$1-$commit.tar.gz"
	if [ ! -s "$tgz" ]; then
		mkdir -p "$OUT/download"
		echo "build.sh: $1 not in $SRC: downloading github.com/$repo at $commit" >&2
		curl -fsSL --retry 3 -o "$tgz.part" "https://codeload.github.com/$repo/tar.gz/$commit" \
			|| { echo "build.sh: cannot download $repo@$commit (no $1 in $SRC either)" >&2; exit 1; }
		mv "$tgz.part" "$tgz"
	fi
	[ -d "$B/src/$1" ] || { mkdir -p "$B/src/$1" && tar -xzf "$tgz" --strip-components=1 -C "$B/src/$1"; }
	echo "$B/src/$1"
}

# glibc 2.36 has no strlcpy (musl and glibc >= 2.38 do): procd and rpcd's rpc-sys plugin use it
COMPAT="-include $HERE/compat/strlcpy.h"
export LDFLAGS="-L$ROOT/usr/lib -Wl,-rpath-link,$ROOT/usr/lib"
export PKG_CONFIG_PATH="$ROOT/usr/lib/pkgconfig"

step() {  # step NAME SECONDS-START: log a line
	printf '%-10s %5.1f s\n' "$1" "$(echo "$(date +%s.%N) - $2" | bc)" | tee -a "$OUT/times.txt"
}

cm() {  # cm NAME SRCDIR [cmake options...] : configure, build, install into $ROOT
	local name=$1 dir=$2 t; shift 2
	[ -e "$B/.$name.done" ] && return 0   # already built (rm -rf OUT to rebuild)
	t=$(date +%s.%N)
	echo "== $name" >> "$LOG"
	nice -n 19 cmake -S "$dir" -B "$B/$name" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_PREFIX_PATH="$ROOT/usr" \
		-DCMAKE_BUILD_TYPE=None -DCMAKE_INSTALL_LIBDIR=lib "$@" >> "$LOG" 2>&1
	nice -n 19 make -C "$B/$name" -j"$JOBS" >> "$LOG" 2>&1
	make -C "$B/$name" install DESTDIR="$ROOT" >> "$LOG" 2>&1
	touch "$B/.$name.done"
	step "$name" "$t"
}

: > "$OUT/times.txt"
T0=$(date +%s.%N)

cm libubox "$(src libubox)" -DBUILD_LUA=OFF -DBUILD_EXAMPLES=OFF

cm ubus "$(src ubus)" -DBUILD_LUA=OFF -DBUILD_EXAMPLES=OFF
cm uci "$(src uci)" -DBUILD_LUA=OFF

# udebug: only the library (procd links it); its ucode module and udebugd are not needed
t=$(date +%s.%N)
nice -n 19 cmake -S "$(src udebug)" -B "$B/udebug" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_PREFIX_PATH="$ROOT/usr" \
	-DCMAKE_INSTALL_LIBDIR=lib -Ducode_include_dir="$ROOT/usr/include" >> "$LOG" 2>&1
nice -n 19 make -C "$B/udebug" -j"$JOBS" udebug >> "$LOG" 2>&1
install -D -m 644 "$B/udebug/libudebug.so" "$ROOT/usr/lib/libudebug.so"
install -m 644 "$(src udebug)"/udebug.h "$(src udebug)"/udebug-pcap.h "$ROOT/usr/include/"
step udebug "$t"

# OpenWrt has uci and ubus in /sbin and /bin; init scripts and uci.sh call /sbin/uci
ln -sf ../bin/uci "$ROOT/usr/sbin/uci" 2>/dev/null || { mkdir -p "$ROOT/usr/sbin"; ln -sf ../bin/uci "$ROOT/usr/sbin/uci"; }

# ucode with the modules LuCI needs (fs, uci, ubus, math, log, uloop, ...); no nl80211/rtnl (libnl-tiny)
cm ucode "$(src ucode)" -DRTNL_SUPPORT=OFF -DNL80211_SUPPORT=OFF -DZLIB_SUPPORT=OFF -DDIGEST_SUPPORT=OFF \
	-DDIGEST_SUPPORT_EXTENDED=OFF -DSOVERSION=20230711

# jsonfilter, used by procd.sh (procd_running, status); its lemon step only works in-tree
rm -rf "$B/jsonpath" && cp -a "$(src jsonpath)" "$B/jsonpath"
cm jsonpath "$B/jsonpath"

# rpcd: session/ACL, uci, file, rpc-sys, ucode plugins; no iwinfo
# (-D_GNU_SOURCE=: ucode/util.h uses vasprintf, which glibc declares only with _GNU_SOURCE)
cm rpcd "$(src rpcd)" -DIWINFO_SUPPORT=OFF -DCMAKE_C_FLAGS="-D_GNU_SOURCE= $COMPAT"

# uhttpd: static files, ubus JSON-RPC (-u), ucode handler (-o, LuCI); no TLS, no Lua.
# GCC 12 raises a false -Wstringop-overread in client.c (upstream builds with -Werror); ucode headers want
# _GNU_SOURCE (vasprintf) as in rpcd
cm uhttpd "$(src uhttpd)" -DTLS_SUPPORT=OFF -DLUA_SUPPORT=OFF \
	-DCMAKE_C_FLAGS="-D_GNU_SOURCE= -Wno-error=stringop-overread"

# procd: only the daemon (run as a plain process it is a service manager on ubus, not init)
t=$(date +%s.%N)
nice -n 19 cmake -S "$(src procd)" -B "$B/procd" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_PREFIX_PATH="$ROOT/usr" \
	-DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_C_FLAGS="-Wno-error=format-overflow $COMPAT" >> "$LOG" 2>&1
nice -n 19 make -C "$B/procd" -j"$JOBS" procd setlbf >> "$LOG" 2>&1
install -D -m 755 "$B/procd/procd" "$ROOT/usr/sbin/procd"
install -D -m 644 "$B/procd/libsetlbf.so" "$ROOT/usr/lib/libsetlbf.so"   # LD_PRELOADed for stdout/stderr 1
step procd "$t"

cm lucihttp "$(src lucihttp)" -DBUILD_LUA=OFF -DBUILD_UCODE=ON -DBUILD_TESTS=OFF \
	-DCMAKE_C_FLAGS="-D_GNU_SOURCE= -I$ROOT/usr/include"

# LuCI: ucode-mod-html, luci.core (lmo translations, hash, ...), luci.version, the ucode runtime,
# luci-base's htdocs/root, luci-theme-bootstrap
t=$(date +%s.%N)
LUCI=$(src luci)
mkdir -p "$B/luci" "$ROOT/usr/lib/ucode/luci" "$ROOT/usr/share/ucode/luci"
nice -n 19 gcc -O2 -fPIC -Wall -shared -I"$ROOT/usr/include" -o "$ROOT/usr/lib/ucode/html.so" \
	"$LUCI/contrib/package/ucode-mod-html/src/html.c" >> "$LOG" 2>&1
rm -rf "$B/luci/src" && cp -a "$LUCI/modules/luci-base/src" "$B/luci/src"
nice -n 19 make -C "$B/luci/src" CFLAGS="-O2 -I$ROOT/usr/include" FPIC=-fPIC \
	LDFLAGS="$LDFLAGS" LUCI_VERSION=owrt-real LUCI_GITBRANCH=master compile >> "$LOG" 2>&1
install -m 755 "$B/luci/src/core.so" "$ROOT/usr/lib/ucode/luci/core.so"
install -m 644 "$B/luci/src/version.uc" "$ROOT/usr/share/ucode/luci/version.uc"
cp -a "$LUCI/modules/luci-base/ucode/." "$ROOT/usr/share/ucode/luci/"
mkdir -p "$ROOT/www"
cp -a "$LUCI/modules/luci-base/htdocs/." "$ROOT/www/"
cp -a "$LUCI/modules/luci-base/root/." "$ROOT/"
cp -a "$LUCI/themes/luci-theme-bootstrap/htdocs/." "$ROOT/www/"
cp -a "$LUCI/themes/luci-theme-bootstrap/ucode/." "$ROOT/usr/share/ucode/luci/"
step luci "$t"

# OpenWrt base-files and package files: rc.common, functions.sh, service.sh, procd.sh, uci.sh
t=$(date +%s.%N)
OW=$(src openwrt)
install -D -m 755 "$OW/package/base-files/files/etc/rc.common" "$ROOT/etc/rc.common"
install -D -m 644 "$OW/package/base-files/files/lib/functions.sh" "$ROOT/usr/lib/functions.sh"
install -D -m 644 "$OW/package/base-files/files/lib/functions/service.sh" "$ROOT/usr/lib/functions/service.sh"
install -D -m 644 "$OW/package/system/procd/files/procd.sh" "$ROOT/usr/lib/functions/procd.sh"
install -D -m 644 "$OW/package/system/uci/files/lib/config/uci.sh" "$ROOT/usr/lib/config/uci.sh"
install -D -m 755 "$OW/package/system/procd/files/reload_config" "$ROOT/usr/bin/reload_config"
install -D -m 755 "$OW/package/system/procd/files/service" "$ROOT/usr/sbin/service"
# what the rpcd and uhttpd packages install besides the binaries (package/system/rpcd/Makefile, ...)
install -D -m 755 "$OW/package/system/rpcd/files/rpcd.init" "$ROOT/etc/init.d/rpcd"
install -D -m 644 "$OW/package/system/rpcd/files/rpcd.config" "$ROOT/etc/config/rpcd"
install -D -m 644 "$(src rpcd)/unauthenticated.json" "$ROOT/usr/share/rpcd/acl.d/unauthenticated.json"
install -D -m 755 "$OW/package/network/services/uhttpd/files/uhttpd.init" "$ROOT/etc/init.d/uhttpd"
install -D -m 644 "$OW/package/network/services/uhttpd/files/uhttpd.config" "$ROOT/etc/config/uhttpd"
# where OpenWrt has them: jsonfilter (jsonpath's binary), /usr/sbin/uhttpd (uhttpd.init runs that)
ln -sf jsonpath "$ROOT/usr/bin/jsonfilter"
ln -sf ../bin/uhttpd "$ROOT/usr/sbin/uhttpd"
mkdir -p "$ROOT/etc/config" "$ROOT/etc/rc.d"
step base-files "$t"

# optional: the PyPI `ubus` binding (python-ubus 0.1.3, OpenWrt's python3-ubus) into a venv, linked against
# this libubus (rpath). OWRT_PYTHON=path/to/venv/bin/python; the sdist is $SRC/ubus-0.1.3.tar.gz or PyPI.
# Its setup.py has setup_requires=pytest-runner: the venv needs wheel and pytest-runner installed first.
if [ -n "${OWRT_PYTHON:-}" ]; then
	t=$(date +%s.%N)
	sdist="$SRC/ubus-0.1.3.tar.gz"; [ -f "$sdist" ] || sdist="ubus==0.1.3"
	CFLAGS="-I$ROOT/usr/include" LDFLAGS="-L$ROOT/usr/lib -Wl,-rpath,$ROOT/usr/lib" nice -n 19 \
		"$OWRT_PYTHON" -m pip install -q --no-build-isolation --no-deps --force-reinstall "$sdist" >> "$LOG" 2>&1
	step pyubus "$t"
fi

step total "$T0"
du -sh "$ROOT" | tee -a "$OUT/times.txt"
