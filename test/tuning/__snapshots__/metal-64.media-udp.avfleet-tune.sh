#!/bin/sh
# avfleet-tune 1 profile=media-udp: apply and verify host tuning for UDP media.
# Rendered by avfleet (modules/tuning) from a profile and host facts; change those, not this file.
# Usage: avfleet-tune apply|verify|provision
# … modules/tuning/avfleet-tune.lib.sh, verbatim …

# --- this host's settings, rendered ---------------------------------------------------

tools() {
  printf '%s\n' 'ethtool:ethtool' 'nft:nftables'
}

install_files() {
  install_file '/etc/sysctl.d/90-avfleet-tune.conf' '0644' 'cd2943ac5d3d2ee605853d6f14ee5031cfbba1e1b14c4543a00822f675de0624' <<'AVFLEET_TUNE_EOF'
# avfleet-tune profile=media-udp: rendered by avfleet (modules/tuning); change the profile, not this file.
# SO_RCVBUF cap: 1000000 pkt/s × 20 ms × 2304 B/pkt = 46080000 B, +10 % headroom, rounded up to a MiB
net.core.rmem_max = 51380224
# SO_SNDBUF cap, same rule: a send burst queued while the NIC's TX queue is full
net.core.wmem_max = 51380224
# servers that never set SO_RCVBUF get the rule's buffer too; 212992 B lost 11.6 % at 100 kpps / 20 ms
net.core.rmem_default = 51380224
# servers that never set SO_SNDBUF get the rule's buffer too
net.core.wmem_default = 51380224
# per-CPU input queue (RPS, veth) holds one stall of the host's packets, at least 10000 (Jitsi: 100000)
net.core.netdev_max_backlog = 20000
# softirq takes up to 600 packets per round (default 300): bursts drain with fewer ksoftirqd hand-offs
net.core.netdev_budget = 600
# under UDP memory pressure each socket still queues ~7 packets (default 4096: one)
net.ipv4.udp_rmem_min = 16384
# under UDP memory pressure each socket can still send ~7 packets (default 4096: one)
net.ipv4.udp_wmem_min = 16384
# the kernel never gives a media port to an outgoing connection
net.ipv4.ip_local_reserved_ports = 10000-59999
# the media ports overlap the default 32768-60999: outgoing connections get the 5536 ports beside them
net.ipv4.ip_local_port_range = 60000 65535
AVFLEET_TUNE_EOF
  install_file '/etc/security/limits.d/90-avfleet-tune.conf' '0644' '13bd78328b824332ad6cfefa8d2fefdf9f4427bc9abee2cc18b2bcfa46156f29' <<'AVFLEET_TUNE_EOF'
# avfleet-tune profile=media-udp: rendered by avfleet (modules/tuning); change the profile, not this file.
* soft nofile 1048576
* hard nofile 1048576
root soft nofile 1048576
root hard nofile 1048576
AVFLEET_TUNE_EOF
  install_file '/etc/systemd/system/sfu.service.d/90-avfleet-tune.conf' '0644' '7b7a1812908b2593b9015fe77a487054b36d8e56220d462d884555b8196f6cfe' <<'AVFLEET_TUNE_EOF'
# avfleet-tune profile=media-udp: rendered by avfleet (modules/tuning); change the profile, not this file.
[Unit]
Wants=avfleet-tune.service
After=avfleet-tune.service

[Service]
LimitNOFILE=1048576
CPUAffinity=8-63
AVFLEET_TUNE_EOF
  install_file '/etc/systemd/system/avfleet-tune.service' '0644' 'a93ea02531adb7f079f7e9933dd31e24ef9dc304e5faaceb59934d954cdbb6dd' <<'AVFLEET_TUNE_EOF'
# avfleet-tune profile=media-udp: rendered by avfleet (modules/tuning); change the profile, not this file.
[Unit]
Description=avfleet host tuning for UDP media
Wants=network-online.target
After=network-online.target
Before=sfu.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/avfleet-tune apply

[Install]
WantedBy=multi-user.target
AVFLEET_TUNE_EOF
}

host_settings() {
  sysctl_key 'net.core.rmem_max' '51380224'
  sysctl_key 'net.core.wmem_max' '51380224'
  sysctl_key 'net.core.rmem_default' '51380224'
  sysctl_key 'net.core.wmem_default' '51380224'
  sysctl_key 'net.core.netdev_max_backlog' '20000'
  sysctl_key 'net.core.netdev_budget' '600'
  sysctl_key 'net.ipv4.udp_rmem_min' '16384'
  sysctl_key 'net.ipv4.udp_wmem_min' '16384'
  sysctl_key 'net.ipv4.ip_local_reserved_ports' '10000-59999'
  sysctl_key 'net.ipv4.ip_local_port_range' '60000 65535'
  notrack '10000-59999'
  service_inactive 'irqbalance.service'
  unit_property 'sfu.service' 'CPUAffinity' '8-63'
  unit_property 'sfu.service' 'LimitNOFILE' '1048576'
  unit_enabled 'avfleet-tune.service'
}

interfaces() {
  printf '%s\n' 'ens1f0np0' 'ens1f1np1'
}

nic_settings() {
  nic_ring "$1" 'rx' '4096'
  nic_ring "$1" 'tx' '4096'
  nic_channels "$1" 'combined' '8'
  nic_coalesce "$1" 'adaptive-rx' 'on'
  nic_flow_hash "$1" 'udp4' 'sdfn'
  nic_flow_hash "$1" 'udp6' 'sdfn'
  nic_rps "$1" '0'
  nic_xps "$1" '01010101,01010101' '02020202,02020202' '04040404,04040404' '08080808,08080808' '10101010,10101010' '20202020,20202020' '40404040,40404040' '80808080,80808080'
  nic_irqs "$1" '0,1,2,3,4,5,6,7'
}

main "$@"
