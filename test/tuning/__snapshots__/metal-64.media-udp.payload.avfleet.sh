# avfleet-tune 1 profile=media-udp hash=fc98e254b275aa2c1099549a2efa0ffb15cb87b813ca6c10f15c2464802b59d4
# avfleet bare-metal payload: runs as avfleet; every privileged step through sudo -n,
# allowed by exactly this rule in /etc/sudoers.d/avfleet:
# avfleet ALL=(root) NOPASSWD: /usr/bin/install -D -m 0755 /dev/stdin /usr/local/sbin/avfleet-tune, /usr/local/sbin/avfleet-tune provision
set -eu
grant='avfleet ALL=(root) NOPASSWD: /usr/bin/install -D -m 0755 /dev/stdin /usr/local/sbin/avfleet-tune, /usr/local/sbin/avfleet-tune provision'
fail() {
  printf 'avfleet payload on %s as %s: %s\n' "$(uname -n)" "$(id -un)" "$1" >&2
  exit 1
}
command -v sudo >/dev/null 2>&1 || fail "sudo is not installed: install it and grant exactly this rule in /etc/sudoers.d/avfleet (visudo -f /etc/sudoers.d/avfleet): $grant - or log in as root (ssh.user: root)"
may_root() {
  sudo -n -l "$@" >/dev/null 2>&1 || fail "may not run '$*' as root without a password: grant exactly this rule in /etc/sudoers.d/avfleet (visudo -f /etc/sudoers.d/avfleet): $grant - or log in as root (ssh.user: root)"
}
as_root() { sudo -n "$@"; }
may_root '/usr/bin/install' '-D' '-m' '0755' '/dev/stdin' '/usr/local/sbin/avfleet-tune'
base64 -d <<'AVFLEET_B64' | as_root '/usr/bin/install' '-D' '-m' '0755' '/dev/stdin' '/usr/local/sbin/avfleet-tune'
<base64 of avfleet-tune>
AVFLEET_B64
if [ -r '/usr/local/sbin/avfleet-tune' ] && ! printf '%s  %s\n' 196f4c385f2fd889d34d6e03bda5abfcd7390e6bbf9c4cb34b2456c59355769c '/usr/local/sbin/avfleet-tune' | sha256sum -c --status -; then
  fail "installed /usr/local/sbin/avfleet-tune differs from the rendered file"
fi
may_root '/usr/local/sbin/avfleet-tune' 'provision'
as_root '/usr/local/sbin/avfleet-tune' 'provision'
