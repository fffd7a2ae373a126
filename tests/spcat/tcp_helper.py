"""Listeners that spcat itself cannot make, for tests/spcat/spcat_test.sh.

  tcp_helper.py closed   a TCP port that is bound but not listening: connects are refused
  tcp_helper.py full     a listener with backlog 1 that never accepts, its queue filled,
                         so that a further connect stays in progress (Linux drops the SYN)

Prints "port N" (and "full" when the queue is full), then holds the sockets until its
standard input ends or it is killed.
"""
import select
import socket
import sys

mode = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print("port", s.getsockname()[1], flush=True)
held = []
if mode == "full":
    s.listen(1)
    for _ in range(64):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", s.getsockname()[1]))
        held.append(c)
        # writable within 0.3 s: the handshake completed; else the queue is full
        _, w, _ = select.select([], [c], [], 0.3)
        if not w:
            print("full", flush=True)
            break
    else:
        print("never full", flush=True)
sys.stdin.read()
