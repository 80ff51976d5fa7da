#!/bin/sh
# PID 1 of the UML lab kernel (hostfs root). boot.py passes LABDIR, LAB_REPO, LAB_PY, LAB_SCENARIO
# on the kernel command line; they arrive here as environment variables.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmpfs /run          # private: netns files, pid files, leases
mkdir -p /run/mods/lib && ln -s /usr/lib/uml/modules /run/mods/lib/modules
for m in ipip tunnel4 esp4 xfrm_user veth bridge sch_netem tun nf_conntrack ip_tables iptable_filter \
         iptable_nat xt_MASQUERADE xt_conntrack xt_multiport; do
    modprobe -d /run/mods "$m" || echo "@lab {\"event\": \"warning\", \"message\": \"module $m did not load\"}"
done
ip link set lo up
echo "@lab {\"event\": \"modules\", \"uptime\": \"$(cut -d' ' -f1 /proc/uptime)\"}"
cd "$LAB_REPO" && "$LAB_PY" board/virtual/labctl.py
echo "@lab {\"event\": \"halt\", \"code\": $?}"
poweroff -f
