#!/bin/sh
# Checks the "# dhcpd -t:" verdict at the top of each fixture against a real ISC dhcpd
# (Debian's isc-dhcp-server, 4.4.3): `sh check-dhcpd.sh`. The Rust test
# `dhcp-config/tests/compat.rs` checks the "# xdhcpd:" verdicts.
cd "$(dirname "$0")" || exit 1
command -v dhcpd >/dev/null || { echo "dhcpd not installed (apt-get install isc-dhcp-server)"; exit 1; }
fail=0
pass=0
for f in *.conf; do
    want=$(sed -n '1s/^# dhcpd -t: \([a-z]*\).*/\1/p' "$f")
    # -lf: a lease file of our own, so that the check never touches the system's.
    out=$(dhcpd -t -4 -cf "$f" -lf /dev/null 2>&1)
    if [ $? -eq 0 ]; then got=accept; else got=reject; fi
    if [ "$got" = "$want" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "MISMATCH $f: header says $want, dhcpd says $got"
        printf '%s\n' "$out" | grep -E "line [0-9]+:|no longer" | head -3
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
