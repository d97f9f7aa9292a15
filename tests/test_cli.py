"""The `surge` command line, run as a user runs it: roster loading, console, serve and /healthz."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT, ROSTER

SURGE = [sys.executable, "-m", "bot.main"]


def surge(args, tmp_path, stdin=None, **env):
    environ = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", **env}
    environ.pop("SURGE_ROSTER", None)
    return subprocess.run(SURGE + args, cwd=ROOT, env=environ, input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_roster_load_is_idempotent_and_refuses_bad_files_whole(tmp_path):
    first = surge(["roster", "load", str(ROSTER)], tmp_path)
    assert first.returncode == 0 and "added person Tom Tech" in first.stdout
    again = surge(["roster", "load", str(ROSTER)], tmp_path)
    assert again.returncode == 0 and again.stdout.strip() == "nothing changed"
    bad = tmp_path / "bad.yml"
    bad.write_text(ROSTER.read_text().replace("org: Contoso Field Services", "org: Nobody Inc", 1))
    refused = surge(["roster", "load", str(bad)], tmp_path)
    assert refused.returncode == 1
    assert "nothing changed" in refused.stderr and "unknown org 'Nobody Inc'" in refused.stderr
    assert "bad.yml:" in refused.stderr
    missing = surge(["roster", "load", str(tmp_path / "nope.yml")], tmp_path)
    assert missing.returncode == 2 and "no roster file" in missing.stderr


def test_console_reads_commands_from_stdin(tmp_path):
    surge(["roster", "load", str(ROSTER)], tmp_path)
    result = surge(["console", "--as", "Dana Dispatch"], tmp_path,
                   stdin='request "Patch" units=5 deadline=2030-01-10 pay=35 town=Hicksville\nlist\n')
    assert result.returncode == 0, result.stderr
    assert "Posted *SR-1*" in result.stdout and "*SR-1* Patch · 5/5 left" in result.stdout


def test_bad_configuration_is_a_clear_message(tmp_path):
    result = surge(["db", "upgrade"], tmp_path, SURGE_TIMEZONE="Mars/Olympus")
    assert result.returncode == 2 and "not a time zone name" in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_migrates_loads_roster_and_answers_healthz(tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "SURGE_ROSTER": str(ROSTER)}
    proc = subprocess.Popen(SURGE + ["serve", "--port", str(port), "--no-scheduler"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                    body = (resp.status, json.loads(resp.read()))
                    break
            except OSError:
                time.sleep(0.1)
        assert body == (200, {"status": "ok", "outbox_failed": 0})
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "Slack is off" in out and "roster: added person Tom Tech" in out


@pytest.mark.parametrize("args", [["--help"], ["roster", "--help"], ["db", "--help"]])
def test_help_lists_commands(tmp_path, args):
    result = surge(args, tmp_path)
    assert result.returncode == 0 and "Usage" in result.stdout


def test_report_prints_a_months_figures(tmp_path):
    surge(["roster", "load", str(ROSTER)], tmp_path)
    result = surge(["report", "--month", "2027-03"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Month report · March 2027" in result.stdout and "Margin $0.00: billed $0.00, paid $0.00" in result.stdout
    bad = surge(["report", "--month", "March"], tmp_path)
    assert bad.returncode == 2 and "like 2027-03" in bad.stderr
