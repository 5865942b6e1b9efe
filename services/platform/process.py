"""Processes: pick a port, start a service, wait until it answers, stop it.

`stop_process` is the one way a process is stopped: a signal (SIGTERM unless told),
a bounded wait, then SIGKILL and a wait that reaps it. Everything that starts a
service as a subprocess (`partnerpulse up`, the scenario stack, the benchmarks)
goes through `spawn` and `stop_process`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from services.platform import local_http

log = logging.getLogger(__name__)

Process = subprocess.Popen[bytes]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    """Return once something accepts connections on host:port; TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on {host}:{port} after {timeout:.0f}s"
                ) from None
            time.sleep(0.05)


def answers(url: str, timeout: float = 1.0) -> bool:
    """True when GET `url` answers 200 now."""
    try:
        return local_http.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def wait_healthy(
    url: str,
    *,
    timeout: float = 30.0,
    proc: Process | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> bool:
    """True once `url` answers 200; False when `timeout` passes, `proc` exits or
    `cancelled()` says to give up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not cancelled():
        if proc is not None and proc.poll() is not None:
            return False
        if answers(url):
            return True
        time.sleep(0.1)
    return False


def spawn(
    args: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    log_file: Path | None = None,
    new_session: bool = False,
    cwd: Path | None = None,
) -> Process:
    """Start `args` with stdout and stderr appended to `log_file` (else discarded).

    `new_session`: the child gets its own process group, so a Ctrl+C meant for the
    parent does not reach it and the parent stops it in its own order.
    """
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
    out = open(log_file, "ab") if log_file is not None else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [str(a) for a in args],
            env=None if env is None else dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=new_session,
            cwd=cwd,
        )
    finally:
        if not isinstance(out, int):
            out.close()  # the child holds its own copy


def start_service(
    args: Sequence[str | Path],
    *,
    port: int,
    env: Mapping[str, str] | None = None,
    log_file: Path | None = None,
    host: str = "127.0.0.1",
    timeout: float = 30.0,
    new_session: bool = False,
    cwd: Path | None = None,
) -> Process:
    """`spawn`, then wait until it listens on `port`; stopped again if it never does."""
    proc = spawn(args, env=env, log_file=log_file, new_session=new_session, cwd=cwd)
    try:
        wait_for_port(host, port, timeout)
    except TimeoutError:
        stop_process(proc)
        raise
    return proc


def stop_process(
    proc: subprocess.Popen[Any] | None,
    timeout: float = 10.0,
    *,
    sig: int = signal.SIGTERM,
    group: bool = False,
) -> int | None:
    """Signal `proc` (its whole process group with `group`), wait up to `timeout`,
    then SIGKILL it; its exit code (None when there was no process)."""
    return stop_processes([] if proc is None else [proc], timeout, sig=sig, group=group).get(
        id(proc)
    )


def stop_processes(
    procs: Iterable[subprocess.Popen[Any]],
    timeout: float = 10.0,
    *,
    sig: int = signal.SIGTERM,
    group: bool = False,
    name: Callable[[subprocess.Popen[Any]], str] = lambda p: f"pid {p.pid}",
) -> dict[int, int | None]:
    """Signal every process first, then wait for each within one shared `timeout`,
    killing those still running when it passes. Keyed by `id(proc)`: the exit codes."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            _signal(proc, sig, group)
    deadline = time.monotonic() + timeout
    codes: dict[int, int | None] = {}
    for proc in procs:
        try:
            codes[id(proc)] = proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0fs; killing it", name(proc), timeout)
            _signal(proc, signal.SIGKILL, group)
            codes[id(proc)] = proc.wait()
    return codes


def _signal(proc: subprocess.Popen[Any], sig: int, group: bool) -> None:
    try:
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except ProcessLookupError:
        pass  # gone between the poll and the signal
