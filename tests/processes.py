"""Real server processes for the tests: a free loopback port, `assistant serve` started and waited for."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import IO

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(env: dict[str, str], *args: str) -> tuple[subprocess.Popen, str]:
    """`assistant serve` on a free port with ``env`` added to this process's; does not wait."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port), *args],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(proc: subprocess.Popen, url: str, seconds: float = 120, health: str = "/readyz",
               log: IO[str] | None = None) -> None:
    """Until ``url + health`` answers 200; fails with the server's output (its pipe, or the file ``log``
    it writes to) if it stops first."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            if log is not None:
                log.seek(0)
            output = log.read()[-2000:] if log is not None else proc.stdout.read()
            pytest.fail(f"the server stopped: {output}")
        try:
            if httpx.get(url + health, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    pytest.fail(f"the server did not become ready in {seconds:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
