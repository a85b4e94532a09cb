"""What a process listens on, from /proc's socket tables (a real socket of this test process too)."""

from __future__ import annotations

import os
import socket

from chaos.init.listeners import Listener, listeners, parse_table

TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0 100 0 0 10 0
   1: 0100007F:1F91 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0 20 4 30 10 -1
   2: 00000000:1F92 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0 100 0 0 10 0
"""


def test_listening_sockets_of_its_own_inodes_only() -> None:
    found = parse_table(TCP, "tcp", "0A", {"111", "222"})

    assert found == [Listener(8080, "tcp", "127.0.0.1")]  # 222 is connected, 333 another process's


def test_a_real_listening_socket_of_this_process_group() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        found = listeners(os.getpgrp())

    assert Listener(port, "tcp", "127.0.0.1") in found
