# avfleet-tune 1 profile=media-udp hash=fc98e254b275aa2c1099549a2efa0ffb15cb87b813ca6c10f15c2464802b59d4
# avfleet bare-metal payload: runs as root from /var/lib/avfleet/payload.sh (docs/reference/bare-metal.md).
set -eu
fail() {
  printf 'avfleet payload on %s: %s\n' "$(uname -n)" "$1" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "runs as uid $(id -u), not root: its command runs it as root"
base64 -d <<'AVFLEET_B64' | '/usr/bin/install' '-D' '-m' '0755' '/dev/stdin' '/usr/local/sbin/avfleet-tune'
<base64 of avfleet-tune>
AVFLEET_B64
if [ -r '/usr/local/sbin/avfleet-tune' ] && ! printf '%s  %s\n' 196f4c385f2fd889d34d6e03bda5abfcd7390e6bbf9c4cb34b2456c59355769c '/usr/local/sbin/avfleet-tune' | sha256sum -c --status -; then
  fail "installed /usr/local/sbin/avfleet-tune differs from the rendered file"
fi
'/usr/local/sbin/avfleet-tune' 'provision'
k=/var/lib/avfleet/kept; install -d -m 0755 $k
install -m 0644 "$0" "$k/$(sha256sum <"$0" | cut -c1-16).sh"
# shellcheck disable=SC2012
ls -1t $k/*.sh | tail -n +9 | xargs -r rm -f --
