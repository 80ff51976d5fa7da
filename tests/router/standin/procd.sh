# Stand-in for OpenWrt's /lib/functions/procd.sh (procd itself cannot run here): every procd_* call an
# init script makes is appended to $PROCD_LOG, one per line, arguments separated by tabs.
_procd_record() {
	local IFS="	"
	echo "$*" >> "$PROCD_LOG"
}
procd_open_service() { _procd_record procd_open_service "$@"; }
procd_close_service() { _procd_record procd_close_service "$@"; }
procd_open_instance() { _procd_record procd_open_instance "$@"; }
procd_set_param() { _procd_record procd_set_param "$@"; }
procd_append_param() { _procd_record procd_append_param "$@"; }
procd_close_instance() { _procd_record procd_close_instance "$@"; }
procd_open_trigger() { _procd_record procd_open_trigger "$@"; }
procd_close_trigger() { _procd_record procd_close_trigger "$@"; }
procd_add_reload_trigger() { _procd_record procd_add_reload_trigger "$@"; }
procd_add_interface_trigger() { _procd_record procd_add_interface_trigger "$@"; }
procd_send_signal() { _procd_record procd_send_signal "$@"; }
procd_kill() { _procd_record procd_kill "$@"; }
procd_lock() { :; }
