"""`python -m bot.web --port N` is checked like web.port in the file: out of range is an error, not a random port."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


BAD_PORTS = [("99999", "must be from 0 to 65535"), ("web", "expected a whole number")]


@pytest.mark.parametrize(("port", "expected"), BAD_PORTS)
def test_a_bad_port_option_exits_2_naming_the_option(port: str, expected: str) -> None:
    command = [sys.executable, "-m", "bot.web", "--config", str(REPO / "config.example.yaml"), "--port", port]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"error: argument --port: {expected}" in result.stderr
    assert "Play in the browser" not in result.stdout
