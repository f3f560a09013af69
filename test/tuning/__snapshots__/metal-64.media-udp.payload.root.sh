# avfleet-tune 1 profile=media-udp hash=fc98e254b275aa2c1099549a2efa0ffb15cb87b813ca6c10f15c2464802b59d4
# avfleet bare-metal payload: runs as root (the site logs in as root).
set -eu
fail() {
  printf 'avfleet payload on %s as %s: %s\n' "$(uname -n)" "$(id -un)" "$1" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "needs a root login (ssh.user: root) but runs as uid $(id -u): log in as root, or set ssh.user to a user granted the sudoers rule in README.md (Bare metal)"
may_root() { :; }
as_root() { "$@"; }
may_root '/usr/bin/install' '-D' '-m' '0755' '/dev/stdin' '/usr/local/sbin/avfleet-tune'
base64 -d <<'AVFLEET_B64' | as_root '/usr/bin/install' '-D' '-m' '0755' '/dev/stdin' '/usr/local/sbin/avfleet-tune'
<base64 of avfleet-tune>
AVFLEET_B64
if [ -r '/usr/local/sbin/avfleet-tune' ] && ! printf '%s  %s\n' 196f4c385f2fd889d34d6e03bda5abfcd7390e6bbf9c4cb34b2456c59355769c '/usr/local/sbin/avfleet-tune' | sha256sum -c --status -; then
  fail "installed /usr/local/sbin/avfleet-tune differs from the rendered file"
fi
may_root '/usr/local/sbin/avfleet-tune' 'provision'
as_root '/usr/local/sbin/avfleet-tune' 'provision'
