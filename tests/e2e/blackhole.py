#!/usr/bin/env python3
"""A TCP address that never answers a SYN, like a firewalled instance-metadata service.

Usage: blackhole.py ADDR PORT. It listens with a backlog of 0 and never
accepts; its own connections fill the queue, after which the kernel drops
every further SYN, so a client's connect() waits for its own timeout. No
firewall rule and no root are needed.
"""
import socket
import sys
import time

addr, port = sys.argv[1], int(sys.argv[2])
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((addr, port))
listener.listen(0)
fillers = []
for _ in range(3):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect((addr, port))
    except BlockingIOError:
        pass
    fillers.append(c)
while True:
    time.sleep(3600)
