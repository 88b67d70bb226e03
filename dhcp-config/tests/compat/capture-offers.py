#!/usr/bin/env python3
"""Runs ISC dhcpd on CONF in a network namespace and prints what it OFFERs to each
client of CLIENTS (a JSON list of {"mac": "52:54:00:00:00:01", "options": {"60": "hex"}}):
one JSON object per client with yiaddr, siaddr, file and every option (hex).
Needs root, iproute2 and dhcpd. Usage: capture-offers.py CONF CLIENTS.json"""
import json, os, socket, struct, subprocess, sys, tempfile, time

conf, clients = sys.argv[1], json.load(open(sys.argv[2]))
ns, srv, cli = "xdcap", "xdcap-s", "xdcap-c"
run = lambda *a: subprocess.run(a, check=True)
subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
run("ip", "netns", "add", ns)
tmp = tempfile.mkdtemp()
dhcpd = None
try:
    run("ip", "link", "add", cli, "type", "veth", "peer", "name", srv)
    run("ip", "link", "set", srv, "netns", ns)
    run("ip", "-n", ns, "addr", "add", "198.18.0.1/24", "dev", srv)
    run("ip", "-n", ns, "link", "set", srv, "up")
    run("ip", "link", "set", cli, "up")
    leases = os.path.join(tmp, "dhcpd.leases")
    open(leases, "w").close()
    dhcpd = subprocess.Popen(["ip", "netns", "exec", ns, "dhcpd", "-f", "-4", "-cf", conf, "-lf", leases,
                              "-pf", os.path.join(tmp, "pid"), srv], stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "log"), "w"))
    time.sleep(2)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((cli, 0))
    s.settimeout(0.2)
    def csum(b):
        if len(b) % 2: b += b"\0"
        t = sum(struct.unpack("!%dH" % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16
        return (~t) & 0xffff
    for i, c in enumerate(clients):
        mac = bytes.fromhex(c["mac"].replace(":", ""))
        xid = 0x1000 + i
        bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, b"\0"*4, b"\0"*4, b"\0"*4, b"\0"*4,
                            mac + b"\0"*10, b"\0"*64, b"\0"*128) + bytes([99, 130, 83, 99, 53, 1, 1])
        for code, hexdata in c.get("options", {}).items():
            d = bytes.fromhex(hexdata); bootp += bytes([int(code), len(d)]) + d
        bootp += b"\xff"
        udp = struct.pack("!HHHH", 68, 67, 8 + len(bootp), 0) + bootp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, b"\0"*4, b"\xff"*4)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        s.send(b"\xff"*6 + mac + b"\x08\x00" + ip + udp)
        got, deadline = None, time.time() + 3
        while time.time() < deadline and not got:
            try: f = s.recv(2048)
            except socket.timeout: continue
            p = f[14 + (f[14] & 15) * 4 + 8:]
            if len(p) < 240 or f[23] != 17 or p[0] != 2 or struct.unpack("!I", p[4:8])[0] != xid: continue
            opts, j = {}, 240
            while j < len(p) and p[j] != 255:
                if p[j] == 0: j += 1; continue
                opts[str(p[j])] = p[j+2:j+2+p[j+1]].hex(); j += 2 + p[j+1]
            got = {"mac": c["mac"], "yiaddr": socket.inet_ntoa(p[16:20]), "siaddr": socket.inet_ntoa(p[20:24]),
                   "file": p[108:236].rstrip(b"\0").decode(errors="replace"), "options": opts}
        print(json.dumps(got or {"mac": c["mac"], "reply": None}))
finally:
    if dhcpd: dhcpd.terminate(); dhcpd.wait()
    subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
    subprocess.run(["ip", "link", "del", cli], stderr=subprocess.DEVNULL)
    sys.stderr.write(open(os.path.join(tmp, "log")).read()[-2000:] if os.path.exists(os.path.join(tmp, "log")) else "")
