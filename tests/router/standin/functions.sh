# Stand-in for the part of OpenWrt's /lib/functions.sh init scripts use: config_load evaluates the UCI
# file as shell, with `config`, `option` and `list` as functions, as the real one does with `uci export`.
config() { CONFIG_SECTION="${2:-cfg$((${CONFIG_NUM:-0} + 1))}"; CONFIG_NUM=$((${CONFIG_NUM:-0} + 1)); }
option() { eval "CONFIG_${CONFIG_SECTION}_$1=\$2"; }
list() { eval "CONFIG_${CONFIG_SECTION}_$1=\"\${CONFIG_${CONFIG_SECTION}_$1:+\$CONFIG_${CONFIG_SECTION}_$1 }\$2\""; }
package() { :; }
config_load() { . "${UCI_CONFIG_DIR:-/etc/config}/$1"; }
config_get() { eval "$1=\${CONFIG_$2_$3:-\$4}"; }
config_get_bool() {
	local _v
	eval "_v=\${CONFIG_$2_$3:-\$4}"
	case "$_v" in 1|on|true|yes|enabled) eval "$1=1" ;; *) eval "$1=0" ;; esac
}
