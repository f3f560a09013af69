# --- avfleet-tune library (modules/tuning/avfleet-tune.lib.sh) ---
# Every setting is written (apply) and then read back: a row's status comes from the value
# read, never from a write's exit status (`sysctl -w` exits 0 on read-only keys).
#   ok              the value read is the value wanted
#   drift           it is not, and the host could hold it
#   not-applicable  the host has no such key, NIC feature or unit
#   read-only       the key exists but cannot be written here (e.g. net.core.rmem_max in a child netns)

set -u
# Run by sudo, by a boot unit or by a root SSH login: the same tools whatever PATH came along.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
ROOT=${AVFLEET_TUNE_ROOT:-}
DRIFT=0

# Columns are at least two spaces apart; values never hold two spaces in a row.
row() {
  printf '%-58s  %-20s  %-20s  %s\n' "$1" "$2" "$3" "$4"
  if [ "$4" = drift ]; then DRIFT=$((DRIFT + 1)); fi
}

# judge NAME WANTED ACTUAL WRITABLE(yes|no)
judge() {
  if [ "$4" = no ]; then
    row "$1" "$2" "$3" read-only
  elif [ "$2" = "$3" ]; then
    row "$1" "$2" "$3" ok
  else
    row "$1" "$2" "$3" drift
  fi
}

applying() { [ "$MODE" = apply ]; }

have() { command -v "$1" >/dev/null 2>&1; }

# A CPU list (0-3,8) or a sysfs hex mask, written one canonical way so both sides compare.
canon_cpus() {
  printf '%s\n' "$1" | tr ',' '\n' | tr ' ' '\n' | awk -F- '
    NF == 1 && $1 != "" { seen[$1 + 0] = 1 }
    NF == 2 { for (c = $1 + 0; c <= $2 + 0; c++) seen[c] = 1 }
    END { for (c in seen) print c }' | sort -n | tr '\n' ',' | sed 's/,$//'
}

canon_mask() {
  m=$(printf '%s' "$1" | tr -d ',' | tr 'A-F' 'a-f' | sed 's/^0*//')
  printf '%s\n' "${m:-0}"
}

# --- files ---------------------------------------------------------------------------

# install_file PATH MODE SHA256 < CONTENT
install_file() {
  target=$ROOT$1
  tmp=$(mktemp) || { row "file $1" "sha256:$(printf '%.12s' "$3")" "-" drift; return; }
  cat >"$tmp"
  if applying && ! printf '%s  %s\n' "$3" "$target" | sha256sum -c - >/dev/null 2>&1; then
    mkdir -p "$(dirname "$target")" && cp "$tmp" "$target.avfleet-tune" &&
      chmod "$2" "$target.avfleet-tune" && mv -f "$target.avfleet-tune" "$target"
    FILES_CHANGED=1
  fi
  rm -f "$tmp"
  actual=absent
  if [ -f "$target" ]; then actual=$(sha256sum "$target" | cut -c1-64); fi
  judge "file $1" "sha256:$(printf '%.12s' "$3")" "sha256:$(printf '%.12s' "$actual")" yes
}

# --- sysctl ----------------------------------------------------------------------------

sysctl_read() { tr -s '[:blank:]' ' ' <"$1" 2>/dev/null; }

# sysctl_key KEY VALUE
sysctl_key() {
  path=/proc/sys/$(printf '%s' "$1" | tr . /)
  if [ ! -e "$path" ]; then
    row "sysctl $1" "$2" "-" not-applicable
    return
  fi
  if applying && [ "$(sysctl_read "$path")" != "$2" ]; then
    printf '%s\n' "$2" 2>/dev/null >"$path" || :
  fi
  writable=yes
  [ -w "$path" ] || writable=no
  judge "sysctl $1" "$2" "$(sysctl_read "$path")" "$writable"
}

# --- NICs (ethtool, sysfs, /proc/irq) --------------------------------------------------

# ethtool_field OUTPUT SECTION FIELD: a field of `ethtool -g|-l` under
# "Pre-set maximums" (max) or "Current hardware settings" (cur).
ethtool_field() {
  printf '%s\n' "$1" | awk -v want="$2" -v field="$3" '
    $0 == "Pre-set maximums:" { section = "max"; next }
    $0 == "Current hardware settings:" { section = "cur"; next }
    section == want {
      i = index($0, ":")
      if (i > 0 && substr($0, 1, i - 1) == field) {
        v = substr($0, i + 1); gsub(/^[ \t]+|[ \t]+$/, "", v); print v; exit
      }
    }'
}

is_count() { case $1 in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

min() { if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi; }

need_ethtool() {
  have ethtool && return 0
  row "$1 $2" "$3" "ethtool missing" drift
  return 1
}

# nic_ring IFACE rx|tx DESCRIPTORS
nic_ring() {
  name="$1 ring $2"
  need_ethtool "$1" "ring $2" "$3" || return
  field=RX
  [ "$2" = tx ] && field=TX
  out=$(ethtool -g "$1" 2>/dev/null) || out=
  max=$(ethtool_field "$out" max "$field")
  if ! is_count "$max" || [ "$max" -eq 0 ]; then
    row "$name" "$3" "-" not-applicable
    return
  fi
  want=$(min "$3" "$max")
  if applying && [ "$(ethtool_field "$out" cur "$field")" != "$want" ]; then
    ethtool -G "$1" "$2" "$want" >/dev/null 2>&1 || :
    out=$(ethtool -g "$1" 2>/dev/null) || out=
  fi
  judge "$name" "$want" "$(ethtool_field "$out" cur "$field")" yes
}

# nic_channels IFACE combined|rx-tx COUNT
nic_channels() {
  name="$1 channels $2"
  need_ethtool "$1" "channels $2" "$3" || return
  out=$(ethtool -l "$1" 2>/dev/null) || out=
  if [ "$2" = combined ]; then
    max=$(ethtool_field "$out" max Combined)
  else
    max=$(ethtool_field "$out" max RX)
    tx_max=$(ethtool_field "$out" max TX)
    is_count "$max" && is_count "$tx_max" && max=$(min "$max" "$tx_max")
  fi
  if ! is_count "$max" || [ "$max" -eq 0 ]; then
    row "$name" "$3" "-" not-applicable
    return
  fi
  want=$(min "$3" "$max")
  if applying && [ "$(channels_now "$2" "$out")" != "$want" ]; then
    if [ "$2" = combined ]; then
      ethtool -L "$1" combined "$want" >/dev/null 2>&1 || :
    else
      ethtool -L "$1" rx "$want" tx "$want" >/dev/null 2>&1 || :
    fi
    out=$(ethtool -l "$1" 2>/dev/null) || out=
  fi
  judge "$name" "$want" "$(channels_now "$2" "$out")" yes
}

# channels_now combined|rx-tx OUTPUT: the count, or rx/tx when they differ
channels_now() {
  if [ "$1" = combined ]; then
    ethtool_field "$2" cur Combined
    return
  fi
  rx=$(ethtool_field "$2" cur RX)
  tx=$(ethtool_field "$2" cur TX)
  if [ "$rx" = "$tx" ]; then echo "$rx"; else echo "rx $rx tx $tx"; fi
}

# coalesce_now OUTPUT PARAM: a value from `ethtool -c`, empty when the NIC lacks it
coalesce_now() {
  printf '%s\n' "$1" | awk -v param="$2" '
    param == "adaptive-rx" && /^Adaptive RX:/ { print $3; exit }
    index($0, param ":") == 1 { v = substr($0, length(param) + 2); gsub(/^[ \t]+|[ \t]+$/, "", v); print v; exit }'
}

# nic_coalesce IFACE PARAM VALUE
nic_coalesce() {
  name="$1 coalesce $2"
  need_ethtool "$1" "coalesce $2" "$3" || return
  out=$(ethtool -c "$1" 2>/dev/null) || out=
  now=$(coalesce_now "$out" "$2")
  case $now in '' | n/a)
    row "$name" "$3" "-" not-applicable
    return
    ;;
  esac
  if applying && [ "$now" != "$3" ]; then
    ethtool -C "$1" "$2" "$3" >/dev/null 2>&1 || :
    now=$(coalesce_now "$(ethtool -c "$1" 2>/dev/null)" "$2")
  fi
  judge "$name" "$3" "$now" yes
}

# flow_hash_now IFACE FLOW: the hashed fields as ethtool's letters (s d f n)
flow_hash_now() {
  ethtool -n "$1" rx-flow-hash "$2" 2>/dev/null | awk '
    /^IP SA/ { s = s "s" } /^IP DA/ { s = s "d" }
    /^L4 bytes 0 & 1/ { s = s "f" } /^L4 bytes 2 & 3/ { s = s "n" }
    END { print s }'
}

# nic_flow_hash IFACE FLOW FIELDS
nic_flow_hash() {
  name="$1 rx-flow-hash $2"
  need_ethtool "$1" "rx-flow-hash $2" "$3" || return
  if ! ethtool -n "$1" rx-flow-hash "$2" >/dev/null 2>&1; then
    row "$name" "$3" "-" not-applicable
    return
  fi
  if applying && [ "$(flow_hash_now "$1" "$2")" != "$3" ]; then
    ethtool -N "$1" rx-flow-hash "$2" "$3" >/dev/null 2>&1 || :
  fi
  judge "$name" "$3" "$(flow_hash_now "$1" "$2")" yes
}

# queue_mask FILE MASK: write (apply) and judge one rps_cpus/xps_cpus file
queue_mask() {
  name=$1
  file=$2
  want=$(canon_mask "$3")
  if applying && [ "$(canon_mask "$(cat "$file" 2>/dev/null)")" != "$want" ]; then
    printf '%s\n' "$3" 2>/dev/null >"$file" || :
  fi
  writable=yes
  [ -w "$file" ] || writable=no
  judge "$name" "$want" "$(canon_mask "$(cat "$file" 2>/dev/null)")" "$writable"
}

# nic_rps IFACE MASK: the same mask on every RX queue
nic_rps() {
  found=no
  for file in "/sys/class/net/$1/queues/"rx-*/rps_cpus; do
    [ -e "$file" ] || continue
    found=yes
    queue=${file%/rps_cpus}
    queue_mask "$1 ${queue##*/} rps_cpus" "$file" "$2"
  done
  [ $found = yes ] || row "$1 rps_cpus" "$2" "-" not-applicable
}

# nic_xps IFACE MASK0 MASK1 ...: TX queue i gets MASKi; queues beyond the list get none
nic_xps() {
  iface=$1
  shift
  found=no
  i=0
  while [ -e "/sys/class/net/$iface/queues/tx-$i/xps_cpus" ]; do
    found=yes
    mask=0
    if [ $# -gt 0 ]; then
      mask=$1
      shift
    fi
    queue_mask "$iface tx-$i xps_cpus" "/sys/class/net/$iface/queues/tx-$i/xps_cpus" "$mask"
    i=$((i + 1))
  done
  [ $found = yes ] || row "$iface xps_cpus" "per queue" "-" not-applicable
}

# nic_irqs IFACE CPU,CPU,...: the NIC's interrupts round-robin over those CPUs
nic_irqs() {
  dir=/sys/class/net/$1/device/msi_irqs
  if [ ! -d "$dir" ]; then
    row "$1 irq affinity" "$2" "-" not-applicable
    return
  fi
  n=$(printf '%s\n' "$2" | tr ',' '\n' | wc -l)
  i=0
  for entry in "$dir"/*; do
    [ -e "$entry" ] || continue
    irq=${entry##*/}
    cpu=$(printf '%s\n' "$2" | tr ',' '\n' | sed -n "$((i % n + 1))p")
    i=$((i + 1))
    file=/proc/irq/$irq/smp_affinity_list
    if [ ! -e "$file" ]; then
      row "$1 irq $irq affinity" "$cpu" "-" not-applicable
      continue
    fi
    if applying && [ "$(canon_cpus "$(cat "$file")")" != "$cpu" ]; then
      printf '%s\n' "$cpu" 2>/dev/null >"$file" || :
    fi
    judge "$1 irq $irq affinity" "$cpu" "$(canon_cpus "$(cat "$file")")" yes
  done
}

# The interfaces that carry the default routes (IPv4, then IPv6), once each.
default_route_interfaces() {
  {
    awk 'NR > 1 && $2 == "00000000" { print $1 }' /proc/net/route 2>/dev/null
    awk '$1 == "00000000000000000000000000000000" && $2 == "00" && $10 != "lo" { print $10 }' \
      /proc/net/ipv6_route 2>/dev/null
  } | awk '!seen[$0]++'
}

# --- conntrack ---------------------------------------------------------------------------

notrack_now() {
  rules=$(nft list table inet avfleet_tune 2>/dev/null) || rules=
  case $rules in *"udp dport $1 notrack"*"udp sport $1 notrack"*)
    echo "$1"
    return
    ;;
  esac
  echo absent
}

# notrack PORTS: no conntrack for the media UDP ports (N or N-M), either direction
notrack() {
  name="conntrack notrack udp"
  if ! have nft; then
    row "$name" "$1" "nft missing" drift
    return
  fi
  if applying && [ "$(notrack_now "$1")" != "$1" ]; then
    nft delete table inet avfleet_tune >/dev/null 2>&1 || :
    nft -f - <<NFT || :
table inet avfleet_tune {
  chain prerouting { type filter hook prerouting priority raw; udp dport $1 notrack; }
  chain output { type filter hook output priority raw; udp sport $1 notrack; }
}
NFT
  fi
  judge "$name" "$1" "$(notrack_now "$1")" yes
}

# --- systemd -------------------------------------------------------------------------------

# Units are only checked on the live system, not on files installed under AVFLEET_TUNE_ROOT.
systemd_live() { [ -z "$ROOT" ] && [ -d /run/systemd/system ] && have systemctl; }

unit_loaded() { [ "$(systemctl show -p LoadState --value "$1" 2>/dev/null)" = loaded ]; }

# unit_property UNIT PROPERTY VALUE
unit_property() {
  name="$1 $2"
  if ! systemd_live || ! unit_loaded "$1"; then
    row "$name" "$3" "-" not-applicable
    return
  fi
  now=$(systemctl show -p "$2" --value "$1" 2>/dev/null)
  if [ "$2" = CPUAffinity ]; then
    judge "$name" "$(canon_cpus "$3")" "$(canon_cpus "$now")" yes
  else
    judge "$name" "$3" "$now" yes
  fi
}

# service_inactive UNIT: stopped and disabled where installed
service_inactive() {
  if ! systemd_live || ! unit_loaded "$1"; then
    row "$1" inactive "-" not-applicable
    return
  fi
  if applying; then systemctl disable --now "$1" >/dev/null 2>&1 || :; fi
  judge "$1" inactive "$(systemctl is-active "$1" 2>/dev/null)" yes
}

# unit_enabled UNIT
unit_enabled() {
  if ! systemd_live; then
    row "$1" enabled "-" not-applicable
    return
  fi
  if applying; then systemctl enable "$1" >/dev/null 2>&1 || :; fi
  judge "$1" enabled "$(systemctl is-enabled "$1" 2>/dev/null)" yes
}

# --- tools (provision) ---------------------------------------------------------------------

# The packages whose commands (`tools`: COMMAND:PACKAGE lines) are not on PATH.
missing_packages() {
  tools | while IFS=: read -r cmd pkg; do have "$cmd" || printf '%s\n' "$pkg"; done
}

apt_install() {
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=300 \
    install --no-install-recommends $1 >&2
}

# Installs what the settings call when absent: apt-get on Debian and Ubuntu (the package
# lists refreshed only when an install from them fails); elsewhere it says what to install.
install_tools() {
  missing=$(missing_packages | tr '\n' ' ' | sed 's/ *$//')
  [ -n "$missing" ] || return 0
  if ! have apt-get; then
    echo "avfleet-tune provision: missing packages: $missing; no apt-get here: install them with this distribution's package manager (dnf, zypper and apk name them the same)" >&2
    exit 3
  fi
  echo "avfleet-tune provision: installing $missing" >&2
  if ! apt_install "$missing"; then
    apt-get -q -o DPkg::Lock::Timeout=300 update >&2 || :
    apt_install "$missing" || :
  fi
  missing=$(missing_packages | tr '\n' ' ' | sed 's/ *$//')
  if [ -n "$missing" ]; then
    echo "avfleet-tune provision: still missing after apt-get install: $missing" >&2
    exit 3
  fi
}

# --- main ----------------------------------------------------------------------------------

main() {
  MODE=${1:-}
  case $MODE in
  apply | verify) ;;
  provision)
    install_tools
    MODE=apply
    ;;
  *)
    echo "usage: avfleet-tune apply|verify|provision" >&2
    echo "  apply: write every setting, read each back; verify: read only;" >&2
    echo "  provision: install the tools it calls when absent, then apply." >&2
    echo "  Exit 0: no drift; 1: drift; 2: usage; 3: tools missing. AVFLEET_TUNE_ROOT=DIR: files under DIR." >&2
    exit 2
    ;;
  esac
  FILES_CHANGED=0
  row SETTING WANTED ACTUAL STATUS
  install_files
  if applying && [ "$FILES_CHANGED" = 1 ] && systemd_live; then
    systemctl daemon-reload >/dev/null 2>&1 || :
  fi
  host_settings
  tuned=$(interfaces)
  while IFS= read -r iface; do
    [ -n "$iface" ] || continue
    if [ -d "/sys/class/net/$iface" ]; then
      nic_settings "$iface"
    else
      row "$iface" present absent not-applicable
    fi
  done <<TUNED
$tuned
TUNED
  if [ "$DRIFT" -gt 0 ]; then
    echo "avfleet-tune $MODE: $DRIFT setting(s) drift" >&2
    exit 1
  fi
  echo "avfleet-tune $MODE: no drift" >&2
}
