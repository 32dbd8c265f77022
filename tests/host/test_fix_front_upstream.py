"""QuickFIX's loopback port behind the front: taken by a stranger, retried; listened on by a stranger, never relayed to.

QuickFIX takes no port 0, so ``Serving`` picks a port free a moment before QuickFIX binds it
(``addin.fix.run.loopback_port``). These tests put a stranger, another process, on that port in
that moment by patching the picker in the acceptor's own process (a child process each, so
QuickFIX's threads never run in the test's): the stranger binds it, listens on it, or listens on
the IPv6 wildcard (QuickFIX then binds, and the listener check, ``addin.fix.listener.check``, is
what refuses the port). The guarantee (docs/fix-invariants.md, "The front end"): the acceptor
serves on a port of its own, relaying a Logon to its own QuickFIX (the Logon answer comes back),
the stranger never sees a connection; a port that stays taken is exit 2 naming the cause.

``check`` itself is tested on real sockets: this process's listener, another process's, none.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("quickfix", reason="the 'fix' extra (QuickFIX) is not installed")

from addin.fix.listener import check, listeners, reaches_loopback
from addin.fix.run import UPSTREAM_TRIES, write_settings
from tests.host.fixkit import free_port

ROOT = Path(__file__).resolve().parents[2]
LINUX = Path("/proc/net/tcp").exists()
needs_proc = pytest.mark.skipif(not LINUX, reason="the listener check reads /proc/net/tcp (Linux)")

#: Another process on a port: binds it (``bound``), listens on 127.0.0.1 (``listening``) or on the
#: IPv6 wildcard, v6-only (``v6only``); prints "ready", then "connected" for each connection it gets;
#: ends when its stdin closes.
STRANGER = textwrap.dedent(
    """
    import select, socket, sys
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "v6only":
        s = socket.socket(socket.AF_INET6)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("::", port))
    else:
        s = socket.socket()
        s.bind(("127.0.0.1", port))
    if mode != "bound":
        s.listen()
    print("ready", s.getsockname()[1], flush=True)
    watch = [sys.stdin] + ([s] if mode != "bound" else [])
    while True:
        ready, _, _ = select.select(watch, [], [])
        if sys.stdin in ready:
            break
        conn, _ = s.accept()
        print("connected", flush=True)
        conn.close()
    """
)

#: The acceptor's side: ``Serving`` with the front, its picker patched so the first pick(s) hand the
#: port to a stranger (argv: mode, how many picks). A raw client then logs on through the front.
ACCEPTOR = textwrap.dedent(
    """
    import socket, subprocess, sys, tempfile, time
    from pathlib import Path
    import quickfix as fix
    import addin.fix.run as run
    from addin.fix.front import DEFAULT_LIMITS
    from addin.fix.run import Serving, write_settings

    mode, picks, stranger_code = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    class App(fix.Application):
        def onCreate(self, s): pass
        def onLogon(self, s): sys.stdout.write(f"logon {s}\\n")
        def onLogout(self, s): pass
        def toAdmin(self, m, s): pass
        def fromAdmin(self, m, s): pass
        def toApp(self, m, s): pass
        def fromApp(self, m, s): pass
        def poll(self): pass

    strangers, taken = [], []
    real = run.loopback_port

    def pick():
        port = real()
        if len(taken) < picks:  # between this pick and QuickFIX's bind, a stranger takes the port
            p = subprocess.Popen([sys.executable, "-c", stranger_code, mode, str(port)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
            assert p.stdout.readline().startswith("ready"), "the stranger did not start"
            strangers.append(p)
            taken.append(port)
        return port

    run.loopback_port = pick
    tmp = Path(tempfile.mkdtemp())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        public = s.getsockname()[1]
    events = []
    serving = Serving(App(), str(write_settings(tmp / "a.cfg", "acceptor", public, tmp)), front=DEFAULT_LIMITS,
                      on_event=events.append)
    serving.start()
    try:
        print("taken", taken, "upstream", serving.upstream[1], flush=True)
        import os
        from addin.fix.listener import listeners, own_sockets
        for item in listeners(serving.upstream[1]):
            with socket.socket(fileno=os.dup(own_sockets()[item.inode])) as dup:
                device = dup.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16).rstrip(b"\\0").decode()
            print("listener", item.address, device, flush=True)
        now = time.strftime("%Y%m%d-%H:%M:%S.000", time.gmtime())
        body = f"35=A\\x0134=1\\x0149=CLIENT\\x0152={now}\\x0156=CLEARQUOTE\\x0198=0\\x01108=30\\x01141=Y\\x01"
        head = b"8=FIX.4.4\\x019=%d\\x01" % len(body) + body.encode()
        logon = head + b"10=%03d\\x01" % (sum(head) % 256)
        c = socket.create_connection(("127.0.0.1", public), timeout=30)
        c.sendall(logon)
        got = b""
        while b"\\x0135=A\\x01" not in got:
            chunk = c.recv(65536)
            assert chunk, ("closed before the Logon answer", got, events)
            got += chunk
        print("logon answer", got.split(b"\\x01")[:3], flush=True)
        c.close()
    finally:
        serving.stop()
        for p in strangers:
            p.stdin.close()
            print("stranger", p.stdout.read().split(), flush=True)
            p.wait(10)
    print("events", events, flush=True)
    print("done", flush=True)
    """
)


def run_acceptor(mode: str, picks: int) -> str:
    out = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", ACCEPTOR, mode, str(picks), STRANGER],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0 and "done" in out.stdout, (out.returncode, out.stdout[-2000:], out.stderr[-3000:])
    return out.stdout


def _line(stdout: str, start: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(start))


@needs_proc
@pytest.mark.parametrize(
    ("mode", "picks"),
    [("bound", 1), ("listening", 1), ("listening", UPSTREAM_TRIES - 1), ("v6only", 1)],
    ids=["bound-between-pick-and-bind", "listening-between-pick-and-bind", "taken-all-but-the-last-try", "v6-wildcard"],
)
def test_a_stranger_on_the_picked_port_costs_a_retry_never_a_wrong_relay(mode: str, picks: int) -> None:
    stdout = run_acceptor(mode, picks)
    taken_line = _line(stdout, "taken")
    upstream = int(taken_line.split("upstream")[1])
    taken = [int(p) for p in taken_line.split("[")[1].split("]")[0].split(",") if p.strip()]
    assert len(taken) == picks and upstream not in taken, taken_line  # QuickFIX serves on a port of its own
    assert "logon FIX.4.4:CLEARQUOTE->CLIENT" in stdout and "dropped" not in _line(stdout, "events")
    assert "logon answer" in stdout  # the front relayed the Logon to this process's QuickFIX and its answer back
    assert "connected" not in " ".join(line for line in stdout.splitlines() if line.startswith("stranger")), stdout
    # QuickFIX 1.16 listens on every interface (0.0.0.0) whatever SocketAcceptHost says; the start confined it to
    # the loopback device, so it takes no connection from another interface.
    assert _line(stdout, "listener").split()[1:] == ["0.0.0.0", "lo"], stdout
    # Each retry is logged with its cause: QuickFIX could not bind, or (the v6 wildcard) the check found the stranger.
    events = _line(stdout, "events")
    cause = "another socket listens where the front would connect" if mode == "v6only" else "Unable to create, bind, or listen"
    assert events.count("trying another port") == picks and events.count(cause) == picks, events


@needs_proc
def test_a_port_that_stays_taken_is_exit_2_naming_the_cause(tmp_path: Path) -> None:
    """Every pick is a port a stranger listens on: the acceptor gives up after its tries, exit 2, nothing served."""
    stranger = subprocess.Popen(
        [sys.executable, "-c", STRANGER, "listening", "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert stranger.stdout is not None
        port = int(stranger.stdout.readline().split()[1])
        public = free_port()
        cfg = write_settings(tmp_path / "a.cfg", "acceptor", public, tmp_path)
        script = (
            "import sys, addin.fix.run as run\n"
            f"run.loopback_port = lambda: {port}\n"
            "from addin.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", script, "fix-acceptor", str(cfg), "--journal", str(tmp_path / "j.sqlite")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert out.returncode == 2, (out.returncode, out.stderr[-3000:])
        assert f"QuickFIX could not listen on a loopback port of its own in {UPSTREAM_TRIES} tries" in out.stderr
        assert f"port {port}: Runtime error: Unable to create, bind, or listen to port {port}" in out.stderr
        assert "Traceback" not in out.stderr and "accepting" not in out.stdout
        with socket.socket() as s:  # the public port was released
            s.bind(("127.0.0.1", public))
    finally:
        stranger.stdin.close()  # type: ignore[union-attr]
        stranger.wait(10)
    assert "connected" not in stranger.stdout.read()  # type: ignore[union-attr]


NO_FRONT = textwrap.dedent(
    """
    import os, socket, sys, tempfile
    from pathlib import Path
    import quickfix as fix
    from addin.fix.listener import listeners, own_sockets
    from addin.fix.run import Serving, write_settings

    class App(fix.Application):
        def onCreate(self, s): pass
        def onLogon(self, s): pass
        def onLogout(self, s): pass
        def toAdmin(self, m, s): pass
        def fromAdmin(self, m, s): pass
        def toApp(self, m, s): pass
        def fromApp(self, m, s): pass
        def poll(self): pass

    tmp = Path(tempfile.mkdtemp())
    port = int(sys.argv[2])
    serving = Serving(App(), str(write_settings(tmp / "a.cfg", "acceptor", port, tmp, host=sys.argv[1])))
    serving.start()
    try:
        for item in listeners(port):
            with socket.socket(fileno=os.dup(own_sockets()[item.inode])) as dup:
                device = dup.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16).rstrip(b"\\0").decode()
            print("listener", item.address, device or "-", flush=True)
    finally:
        serving.stop()
    """
)


@needs_proc
@pytest.mark.parametrize(("host", "device"), [("127.0.0.1", "lo"), ("0.0.0.0", "-")])
def test_without_the_front_a_loopback_host_in_the_settings_is_made_true(host: str, device: str) -> None:
    """``--no-front``: QuickFIX 1.16 listens on 0.0.0.0 whatever SocketAcceptHost says; a loopback host in the
    settings gets its listener confined to the loopback device, a wildcard host is left on every interface."""
    out = subprocess.run(
        [sys.executable, "-c", NO_FRONT, host, str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert _line(out.stdout, "listener").split()[1:] == ["0.0.0.0", device], out.stdout


@needs_proc
def test_without_the_front_a_taken_port_is_exit_2_naming_it(tmp_path: Path) -> None:
    with stranger_on("listening") as port:
        cfg = write_settings(tmp_path / "a.cfg", "acceptor", port, tmp_path)
        out = subprocess.run(
            [sys.executable, "-m", "addin.cli", "fix-acceptor", str(cfg), "--no-front", "--journal", str(tmp_path / "j.sqlite")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert out.returncode == 2, (out.returncode, out.stderr[-3000:])
    assert f"QuickFIX could not listen: Runtime error: Unable to create, bind, or listen to port {port}" in out.stderr
    assert "Traceback" not in out.stderr


@contextmanager
def stranger_on(mode: str, port: int = 0) -> Iterator[int]:
    p = subprocess.Popen(
        [sys.executable, "-c", STRANGER, mode, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert p.stdout is not None
        yield int(p.stdout.readline().split()[1])
    finally:
        p.stdin.close()  # type: ignore[union-attr]
        p.wait(10)


@needs_proc
def test_the_check_knows_this_process_from_another_and_from_none() -> None:
    with socket.socket() as mine:
        mine.bind(("127.0.0.1", 0))
        mine.listen()
        port = mine.getsockname()[1]
        verdict = check(port)
        assert verdict.problem is None and [item.port for item in verdict.ours] == [port]
        inode = os.fstat(mine.fileno()).st_ino
        assert "another socket listens" in (check(port, exclude=frozenset({inode})).problem or "")  # e.g. the front's own
    with stranger_on("listening") as theirs:
        problem = check(theirs).problem or ""
        assert "another socket listens where the front would connect to 127.0.0.1" in problem and "inode" in problem
    with stranger_on("v6only") as theirs:  # counted: /proc does not say whether a :: listener is v6-only
        assert "another socket listens" in (check(theirs).problem or "")
    with stranger_on("bound") as theirs:  # bound, not listening: nothing listens there
        assert check(theirs).problem == f"nothing of this process listens on 127.0.0.1:{theirs}"


@needs_proc
def test_the_kernel_tables_are_read_as_the_kernel_writes_them() -> None:
    """IPv4 and IPv6 addresses decoded from /proc/net/tcp*: a socket listening on each is found where it is."""
    with socket.socket() as v4, socket.socket(socket.AF_INET6) as v6:
        v4.bind(("127.0.0.1", 0))
        v4.listen()
        v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        v6.bind(("::1", 0))
        v6.listen()
        found4 = listeners(v4.getsockname()[1]) or []
        found6 = listeners(v6.getsockname()[1]) or []
        assert [(f.address, f.inode) for f in found4] == [("127.0.0.1", os.fstat(v4.fileno()).st_ino)]
        assert [(f.address, f.inode) for f in found6] == [("::1", os.fstat(v6.fileno()).st_ino)]
    assert not reaches_loopback("::1") and not reaches_loopback("10.0.0.5") and not reaches_loopback("127.0.0.2")
    assert all(reaches_loopback(a) for a in ("127.0.0.1", "0.0.0.0", "::", "::ffff:127.0.0.1", "::ffff:0.0.0.0"))


def test_no_kernel_tables_is_unchecked_not_a_pass(tmp_path: Path) -> None:
    verdict = check(1, tables=(tmp_path / "absent",))
    assert verdict.problem is None and not verdict.checked and verdict.ours == ()


#: The acceptor's command with ``SO_BINDTODEVICE`` failing as it does without the privilege or on a kernel
#: that refuses it (``listener.confine`` returns its reason); argv after the script: the command's.
UNCONFINED = (
    "import sys, addin.fix.listener as listener\n"
    "listener.confine = lambda item: f'{item.address} port {item.port}: SO_BINDTODEVICE lo: Operation not permitted'\n"
    "from addin.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@needs_proc
def test_a_listener_that_cannot_be_confined_fails_closed_exit_2_naming_the_cause(tmp_path: Path) -> None:
    """F7 (a) of the outside audit: the start logged the failure and served with QuickFIX on 0.0.0.0, reachable past
    the front. Now it does not serve: exit 2 naming the cause and the option, nothing left listening."""
    public = free_port()
    cfg = write_settings(tmp_path / "a.cfg", "acceptor", public, tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", UNCONFINED, "fix-acceptor", str(cfg), "--journal", str(tmp_path / "j.sqlite")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 2, (out.returncode, out.stdout[-2000:], out.stderr[-3000:])
    assert "could not be confined to the loopback device" in out.stderr, out.stderr[-3000:]
    assert "SO_BINDTODEVICE lo: Operation not permitted" in out.stderr and "--allow-unconfined-quickfix" in out.stderr
    assert "Traceback" not in out.stderr and "accepting" not in out.stdout
    with socket.socket() as s:  # the public port was released
        s.bind(("127.0.0.1", public))


ALLOW = ("--allow-unconfined-quickfix",)


@needs_proc
def test_an_unconfined_listener_is_served_only_when_the_option_allows_it(tmp_path: Path) -> None:
    public = free_port()
    cfg = write_settings(tmp_path / "a.cfg", "acceptor", public, tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-c", UNCONFINED, "fix-acceptor", str(cfg), "--journal", str(tmp_path / "j.sqlite"), *ALLOW],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the acceptor's own stdout ends only when it exits
            lines.append(line)
            if "accepting" in line:
                break
        assert any("accepting" in line for line in lines), lines
        assert any("not confined to the loopback device" in line and "(allowed)" in line for line in lines), lines
    finally:
        proc.terminate()
        proc.wait(60)


def test_the_option_is_refused_without_a_front(tmp_path: Path) -> None:
    cfg = write_settings(tmp_path / "a.cfg", "acceptor", free_port(), tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "addin.cli", "fix-acceptor", str(cfg), "--no-front", "--allow-unconfined-quickfix"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 2 and "--no-front: --allow-unconfined-quickfix" in out.stderr, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr
