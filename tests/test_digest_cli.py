"""`surge digest --chart FILE` prints the digest and writes its chart as a PNG, saying where."""
from __future__ import annotations

from tests.conftest import ROSTER
from tests.test_cli import surge


def test_digest_writes_its_chart_and_prints_the_path(tmp_path):
    surge(["roster", "load", str(ROSTER)], tmp_path)
    surge(["console", "--as", "Dana Dispatch"], tmp_path,
          stdin='request "Patch" units=5 deadline=2030-01-10 pay=35 town=Hicksville\n')
    out = tmp_path / "digest.png"
    result = surge(["digest", "--manager", "Morgan Manager", "--chart", str(out)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Surge digest" in result.stdout and f"chart: {out}" in result.stdout.splitlines()
    assert out.read_bytes().startswith(b"\x89PNG")
