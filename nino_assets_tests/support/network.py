"""What a test's servers listen on: a free loopback port to give one, and the sockets its processes listen on."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(table: str) -> dict[int, str]:
    """Socket inode -> "address:port" of the TCP sockets in LISTEN state, from /proc/net/tcp or tcp6."""
    found = {}
    for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], int(fields[9])
        if state != "0A":  # LISTEN
            continue
        address, port = local.split(":")
        raw = bytes.fromhex(address)
        if table == "tcp":
            host = socket.inet_ntop(socket.AF_INET, raw[::-1])
        else:  # four little-endian 32-bit words
            host = socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
            host = host.removeprefix("::ffff:") if "." in host else host  # an IPv4 address on an IPv6 socket
        found[inode] = f"{host}:{int(port, 16)}"
    return found


def listening_addresses(pids: set[int]) -> dict[int, list[str]]:
    """For each of these processes, the TCP addresses it listens on."""
    sockets = _listening("tcp") | _listening("tcp6")
    addresses: dict[int, list[str]] = {}
    for pid in pids:
        try:
            links = [os.readlink(entry) for entry in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue  # gone
        inodes = {int(link[8:-1]) for link in links if link.startswith("socket:[")}
        addresses[pid] = sorted(sockets[inode] for inode in inodes if inode in sockets)
    return addresses


def descendants(pid: int) -> set[int]:
    """The processes below `pid` (children, their children, ...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, frontier = set(), [pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found
