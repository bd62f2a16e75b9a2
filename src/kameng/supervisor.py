"""Process supervision for ``kameng run``: start children, wait until they answer,
stop all of them (and the embedded PostgreSQL) however the run ends."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import httpx

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def interrupt_on_termination() -> None:
    """Until children exist, SIGTERM/SIGHUP unwind like Ctrl-C, so ``finally``
    blocks (stopping the embedded server) still run."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option uvicorn sets, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec hook (Linux) that makes the child get SIGTERM if we die, even by
    SIGKILL, so a killed supervisor never leaves orphans serving ports."""
    if not sys.platform.startswith("linux"):
        return None
    # Loaded here, not in the forked child: dlopen after fork is unsafe.
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def hook() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


def describe_exit(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    ready_url: str | None = None

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class Supervisor:
    """Starts children in their own process groups: a terminal Ctrl-C reaches only
    us, and we stop them in order instead of racing their own shutdown."""

    env: dict[str, str]
    echo: Callable[[str], None]
    children: list[Child] = field(default_factory=list)
    signals_seen: int = 0

    def install_signal_handlers(self) -> None:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals_seen += 1

    @property
    def stopping(self) -> bool:
        return self.signals_seen > 0

    def start(self, name: str, args: Sequence[str], ready_url: str | None = None) -> Child:
        process = subprocess.Popen(
            [sys.executable, *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            process_group=0,
            preexec_fn=_die_with_parent_hook(),
        )
        child = Child(name, process, ready_url)
        self.children.append(child)
        return child

    def first_dead(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)

    def wait_ready(self, timeout: float) -> str | None:
        """None once every child with a URL answers HTTP; else why not (a child
        died, time ran out, or we were asked to stop)."""
        pending = [c for c in self.children if c.ready_url]
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while pending:
                if self.stopping:
                    return "stopped before start-up finished"
                dead = self.first_dead()
                if dead is not None:
                    return f"{dead.name} {describe_exit(dead.process.returncode)} during start-up"
                if time.monotonic() > deadline:
                    names = ", ".join(c.name for c in pending)
                    return f"{names} did not answer HTTP within {timeout:.0f} s"
                pending = [c for c in pending if not _answers(client, c.ready_url)]
                if pending:
                    time.sleep(0.2)
        return None

    def wait(self) -> Child | None:
        """Block until a stop signal (-> None) or a child exits (-> that child)."""
        while not self.stopping:
            dead = self.first_dead()
            if dead is not None:
                return dead
            time.sleep(0.2)
        return None

    def stop_all(self, grace: float = 10.0) -> None:
        """SIGTERM every child, SIGKILL whatever is left after ``grace`` seconds."""
        alive = [c for c in self.children if c.process.poll() is None]
        for child in alive:
            self.echo(f"stopping {child.name} (pid {child.pid})")
            _signal_group(child, signal.SIGTERM)
        # No "second Ctrl-C kills at once": `uv run` forwards the terminal's
        # SIGINT, so one keypress can arrive twice.
        deadline = time.monotonic() + grace
        while any(c.process.poll() is None for c in alive) and time.monotonic() < deadline:
            time.sleep(0.1)
        for child in alive:
            if child.process.poll() is None:
                self.echo(f"{child.name} did not stop in time: SIGKILL")
                _signal_group(child, signal.SIGKILL)
                child.process.wait()


def _answers(client: httpx.Client, url: str | None) -> bool:
    if url is None:
        return True
    try:
        return client.get(url).status_code < 500
    except httpx.HTTPError:
        return False


def _signal_group(child: Child, sig: signal.Signals) -> None:
    # The group id is the child's pid (process_group=0); it outlives the child
    # only while some member lives, so "no such group" just means all gone.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, sig)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_embedded(server: Any) -> list[int]:
    """Drop our handle on the embedded server, which stops it if ours was the
    last. Returns the other live processes still holding it (then it keeps running)."""
    handles = getattr(server, "global_process_id_list", None)
    lock = getattr(server, "_lock", None)
    if handles is not None and lock is not None:
        # A process that died without cleanup (SIGKILL) stays on the handle list
        # and would keep the server up forever; forget the dead ones first.
        with lock:
            handles.put([pid for pid in handles.get() if _pid_alive(pid)])
    server.cleanup()
    if handles is None:
        return []
    return [pid for pid in handles.get() if pid != os.getpid()]
