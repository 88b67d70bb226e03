#!/usr/bin/env python3
"""Random dhcpd.conf statements (this slice's: DDNS, keys and zones, host names, text,
abandon-lease-time, db-time-format, option spaces, records, stray expressions) in
random combinations, each file checked by `dhcpd -t` and `xdhcpd --check`; prints the
files where the verdicts differ, except xdhcpd's deliberate refusals (DDNS on,
expressions it does not evaluate yet, record types it does not support, an undeclared
site-option-space). Classes, permits, conditions and expressions are in the mix too.

    python3 diff-dhcpd.py [SEED] [COUNT] [XDHCPD]   (default 1 200 target/debug/xdhcpd)
"""
import os, random, subprocess, sys, tempfile

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 1
COUNT = int(sys.argv[2]) if len(sys.argv) > 2 else 200
XDHCPD = sys.argv[3] if len(sys.argv) > 3 else "target/debug/xdhcpd"
SUBNET = "subnet 198.18.0.0 netmask 255.255.255.0 {\n  range 198.18.0.10 198.18.0.20;\n  %s\n}\n"
INNER = ["", "ddns-updates off;", "option s.a \"y\";", "vendor-option-space s;",
 # classes, permits, conditions (issue 11, second slice)
 "pool { allow members of \"c1\"; range 198.18.0.30 198.18.0.40; }", "pool { deny members of \"c2\"; allow known-clients; range 198.18.0.30 198.18.0.40; }",
 "pool { allow unknown clients; deny dynamic bootp clients; range 198.18.0.30 198.18.0.40; }", "pool { allow bootp; range 198.18.0.30 198.18.0.40; }",
 "pool { deny all clients; allow members of \"nosuch\"; range 198.18.0.30 198.18.0.40; }",
 "if known { filename \"a\"; } else { filename \"b\"; }", "if option user-class = \"iPXE\" { filename \"x\"; } elsif exists user-class { deny booting; }",
 "if not exists vendor-class-identifier { option host-name = concat (\"h-\", suffix (binary-to-ascii (16, 8, \"\", hardware), 4)); }",
 "if static or known { log (info, \"x\"); } else if option host-name ~~ \"^pc\" { next-server = 01:02:03:04; }",
 "if known { range 198.18.0.50 198.18.0.51; }", "if (known { filename \"a\"; }", "elsif known { filename \"a\"; }",
 "switch (option user-class) { case \"a\": filename \"a\"; case \"b\": break; default: filename \"c\"; }",
 "switch (extract-int (option dhcp-max-message-size, 16)) { case 1500: filename \"x\"; break; }",
 "switch (option user-class) { case 1500: filename \"x\"; }", "switch (known) { case 1: break; }",
 "on commit { set ip = binary-to-ascii (10, 8, \".\", leased-address); execute (\"/bin/true\", ip); }",
 "on release or expiry { log (info, \"x\"); }", "on commit or { }", "on commit { option domain-name \"x\"; }"]
# An invalid regular expression: dhcpd accepts it (and never matches), xdhcpd refuses it.
DELIBERATE = ("does not support yet", "not supported yet", "is not supported", "invalid regular expression")

stmts=[
 "ddns-update-style none;","ddns-update-style interim;","ddns-update-style standard;","ddns-update-style ad-hoc;","ddns-update-style;","ddns-update-style \"none\";",
 "ddns-updates off;","ddns-updates on;","ddns-updates false;","ddns-updates 0;","ddns-updates;",
 "ddns-domainname \"a.test\";","ddns-domainname a;","ddns-domainname a.test;","ddns-domainname \"\";","ddns-hostname 12;",
 "ddns-rev-domainname \"in-addr.arpa.\";","ddns-ttl 60;","ddns-ttl infinite;","ddns-ttl -5;","ddns-ttl 4294967296;","ddns-ttl x;",
 "do-forward-updates on;","update-optimization off;","update-conflict-detection true;","update-static-leases false;",
 "ddns-local-address4 198.18.0.1;","ddns-local-address4 ns.test;","ddns-local-address4 1.2.3;",
 "ddns-guard-id-must-match on;","ddns-other-guard-is-dynamic off;",
 "ignore client-updates;","allow client-updates;","deny client-updates;","ignore client-updates on;",
 "key k1 { algorithm hmac-md5; secret \"YQ==\"; }","key k1 { algorithm hmac-sha256; secret YQ==; };","key \"k.2\" { secret YQ==; algorithm hmac-sha1; }",
 "zone z.test { primary 198.18.0.1; }","zone z.test. { primary ns.test, 198.18.0.2; secondary 198.18.0.3; }","zone z.test { key k1; }","zone z.test { }","zone { primary 1.2.3.4; }",
 "option domain-name-servers ns.test;","option routers gw.test, 198.18.0.1;","option subnet-mask mask.test;","next-server boot.test;","server-identifier srv.test;",
 "option domain-name example;","option domain-name example.com;","option domain-name \"example.com\";","option host-name h_1;","option root-path 12;",
 "abandon-lease-time 10;","abandon-lease-time infinite;","abandon-lease-time;","db-time-format default;","db-time-format local;","db-time-format;",
 "option space s;","option space s code width 2;","option space s length width 2 hash size 7;","option space s code width 8;",
 "vendor-option-space s;","vendor-option-space \"s\";","site-option-space \"s\";","site-option-space s;",
 "option s.a code 1 = text;","option s.a \"x\";","option s.b code 2 = { ip-address, integer 8 };","option s.b 1.2.3.4 5;",
 "option e code 222 = encapsulate s;","option r code 223 = array of { ip-address, boolean };","option r 1.2.3.4 on, 5.6.7.8 off;",
 "option t code 224 = { text, boolean };",
 "host h1 { hardware ethernet 52:54:00:00:00:01; fixed-address 198.18.0.5; }","host h1 { hardware ethernet 52:54:00:00:00:02; fixed-address 198.18.0.5; }",
 "host h2 { hardware ethernet 52:54:00:00:00:01; fixed-address h2.test, 198.18.0.6; }","host h3 { fixed-address 1.2.3.4.5; }","host h4 { fixed-address a..b; }",
 "host h5 { ddns-updates on; ignore client-updates; ddns-hostname \"x\"; }","host h6 { option s.a \"z\"; vendor-option-space s; }",
 "group { ddns-update-style interim; abandon-lease-time 5; }","shared-network n { ddns-updates off; subnet 198.18.1.0 netmask 255.255.255.0 { } }",
 "option q code 226 = array of { ip-address, text };","option q2 code 227 = { ip-address, array of boolean };","option q2 1.2.3.4 on, off;",
 "option q3 code 228 = { boolean, integer 32, text }; option q3 on -5 x;","option q4 code 229 = { domain-name };",
 "class \"c1\" { match if substring (option vendor-class-identifier, 0, 9) = \"PXEClient\"; next-server 198.18.0.5; }",
 "class \"c2\" { match hardware; } subclass \"c2\" 1:52:54:00:00:00:01; subclass \"c2\" \"x\" { option host-name \"x\"; }",
 "class \"c1\" { match option agent.circuit-id; spawn with option agent.remote-id; }", "class \"c3\" { spawn with option agent.circuit-id; lease limit 3; }",
 "class \"c3\" { match if known; match if static; }", "subclass \"c9\" 01;", "class c4 { match if option host-name = 3; }",
 "class \"c5\" { match if extract-int (option host-name, 8) = \"a\"; }", "class \"c6\" { match if option host-name ~= \"(\"; }",
 "class \"c7\" { match if leased-address = 1:2:3:4 and host-decl-name = \"h\"; ignore booting; log (debug, option host-name); }",
 "class \"c8\" { match if lease-time = 5; }", "class \"c8\" { match if option foo.bar = 1; }", "class \"c8\" { match pick-first-value (option host-name, null); option s.a \"c\"; vendor-option-space s; }",
 "if exists host-name { option domain-name \"a.test\"; }", "log (fatal, \"x\");", "log (\"x\")", "filename = concat (\"a\", \"b\");", "default-lease-time = encode-int (5, 32);",
 "deny booting;", "ignore booting;", "allow booting;",
 "foo;","foo = bar;","x1 = 2;","routers = -1;","vendor-string = option vendor-class-identifier;","option u code 225 = array of integer 16;","option u -1, 2;",
]


def verdicts(path):
    d = subprocess.run(["dhcpd", "-t", "-4", "-cf", path, "-lf", "/dev/null"], capture_output=True)
    x = subprocess.run([XDHCPD, "--check", "-c", path], capture_output=True, text=True)
    return d.returncode == 0, x.returncode == 0, x.stderr


def main():
    random.seed(SEED)
    differ = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "g.conf")
        for _ in range(COUNT):
            text = "\n".join(random.sample(stmts, random.randint(1, 3))) + "\n" + SUBNET % random.choice(INNER)
            with open(path, "w") as f:
                f.write(text)
            dhcpd_ok, xdhcpd_ok, out = verdicts(path)
            deliberate = any(d in out for d in DELIBERATE) or ("site-option-space" in text and "not declared" in out)
            if dhcpd_ok != xdhcpd_ok and not (dhcpd_ok and deliberate):
                differ += 1
                print("---- dhcpd", "accepts" if dhcpd_ok else "rejects", "| xdhcpd:", out.strip()[-300:])
                print(text)
    print(f"{COUNT - differ} passed, {differ} failed")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
