"""Who listens on QuickFIX's loopback port, read from the kernel's socket tables (Linux: ``/proc``).

The front relays each admitted client to ``127.0.0.1:PORT``, where QuickFIX was told to listen. QuickFIX
takes no port 0, so PORT is picked free a moment before QuickFIX binds it: another process may take it
in between. Before the front serves, :func:`check` reads the kernel's tables of listening TCP sockets
(``/proc/net/tcp`` and ``/proc/net/tcp6``) and this process's descriptors (``/proc/self/fd``, each
socket's inode): every socket listening where a connection to ``127.0.0.1:PORT`` could land must be
one of this process's, and one must be there. The front's own public socket is not QuickFIX's and is
excluded by the caller.

Where ``/proc/net/tcp`` is absent (macOS, Windows) nothing is checked: :func:`check` says so, and the
acceptor logs it (docs/fix-invariants.md, "What is weak").

QuickFIX 1.16's ThreadedSocketAcceptor binds ``0.0.0.0`` (every interface) whatever
``SocketAcceptHost`` says (seen in ``/proc/net/tcp``: ``00000000:PORT``), so its port is reachable from
the network, past the front. :func:`confine` binds that listening socket to the loopback device
(``SO_BINDTODEVICE``; Linux only), so a connection that arrives on any other interface finds no
listener there.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

#: The kernel's tables of TCP sockets (IPv4, IPv6) and its state code for LISTEN.
TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
LISTEN = "0A"
#: The loopback device's name on Linux.
LOOPBACK_DEVICE = "lo"


@dataclass(frozen=True)
class Listener:
    """A listening TCP socket: its local address, port and socket inode."""

    address: str
    port: int
    inode: int


def _address(hex_address: str) -> str:
    """An address as ``/proc/net/tcp*`` prints it: 32-bit words in the host's byte order, in hex."""
    raw = b"".join(struct.pack("=I", int(hex_address[i : i + 8], 16)) for i in range(0, len(hex_address), 8))
    return str(ipaddress.ip_address(raw))


def listeners(port: int, tables: tuple[Path, ...] = TABLES) -> list[Listener] | None:
    """Every socket listening on TCP ``port`` (any address, IPv4 and IPv6); None where no table can be read."""
    found: list[Listener] = []
    read = False
    for table in tables:
        try:
            text = table.read_text(encoding="ascii")
        except OSError:
            continue
        read = True
        for line in text.splitlines()[1:]:
            cols = line.split()
            if len(cols) < 10 or cols[3] != LISTEN:
                continue
            hex_address, _, hex_port = cols[1].partition(":")
            if int(hex_port, 16) == port:
                found.append(Listener(_address(hex_address), port, int(cols[9])))
    return found if read else None


def own_sockets() -> dict[int, int]:
    """This process's sockets: inode -> file descriptor (``/proc/self/fd``; empty where it is absent)."""
    out: dict[int, int] = {}
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return out
    for name in names:
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:[") and target.endswith("]"):
            out[int(target[8:-1])] = int(name)
    return out


def reaches_loopback(address: str) -> bool:
    """Whether a socket listening on ``address`` could take a connection made to 127.0.0.1.

    IPv4 127.0.0.1 and the wildcard 0.0.0.0; in IPv6, the mapped forms of both and the wildcard ``::``
    (a dual-stack ``::`` takes IPv4 connections; the table does not say whether a socket is v6-only,
    so every ``::`` counts: a v6-only one costs a retry on another port, never a wrong relay).
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        else:
            return ip == ipaddress.IPv6Address("::")
    return ip in (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv4Address("0.0.0.0"))


@dataclass(frozen=True)
class Verdict:
    """What :func:`check` found: ``problem`` (None: the port is this process's alone), and this process's
    listeners there (empty where unchecked); ``checked`` False where the platform has no tables."""

    problem: str | None
    ours: tuple[Listener, ...] = ()
    checked: bool = True


def check(port: int, exclude: frozenset[int] = frozenset(), tables: tuple[Path, ...] = TABLES) -> Verdict:
    """Whether every listener that a connection to ``127.0.0.1:port`` could reach is this process's.

    Parameters
    ----------
    port : int
        QuickFIX's loopback port.
    exclude : frozenset of int
        Socket inodes of this process that are not QuickFIX's (the front's public socket).
    tables : tuple of Path
        The kernel's tables (the default; tests give others).

    Returns
    -------
    Verdict
        ``problem`` names what is wrong: nothing listens there, or a socket of another process (or one of
        ``exclude``) does, with its address and inode.
    """
    found = listeners(port, tables)
    if found is None:
        return Verdict(None, (), checked=False)
    relevant = [item for item in found if reaches_loopback(item.address)]
    mine = own_sockets()
    strangers = [item for item in relevant if item.inode not in mine or item.inode in exclude]
    if strangers:
        named = ", ".join(f"{s.address} port {s.port} (socket inode {s.inode})" for s in strangers)
        return Verdict(f"another socket listens where the front would connect to 127.0.0.1:{port}: {named}")
    if not relevant:
        return Verdict(f"nothing of this process listens on 127.0.0.1:{port}")
    return Verdict(None, tuple(relevant))


def confine(listener: Listener) -> str | None:
    """Bind this process's listening socket to the loopback device (``SO_BINDTODEVICE``), if it listens on a
    wildcard address; None once done (or not needed), else why not (the platform, the device, the kernel)."""
    if not ipaddress.ip_address(listener.address).is_unspecified:
        return None
    option = getattr(socket, "SO_BINDTODEVICE", None)
    fd = own_sockets().get(listener.inode)
    if option is None or fd is None:
        return f"{listener.address} port {listener.port}: SO_BINDTODEVICE is not available here"
    # A duplicate of QuickFIX's descriptor: an option set through it is the socket's (one socket, two
    # descriptors); closing the duplicate leaves QuickFIX's descriptor and socket as they were.
    with socket.socket(fileno=os.dup(fd)) as dup:
        try:
            dup.setsockopt(socket.SOL_SOCKET, option, LOOPBACK_DEVICE.encode() + b"\0")
        except OSError as exc:
            return f"{listener.address} port {listener.port}: SO_BINDTODEVICE {LOOPBACK_DEVICE}: {exc.strerror}"
        bound = dup.getsockopt(socket.SOL_SOCKET, option, 16).rstrip(b"\0").decode()
    if bound != LOOPBACK_DEVICE:
        return f"{listener.address} port {listener.port}: bound to device {bound!r}, not {LOOPBACK_DEVICE!r}"
    return None
