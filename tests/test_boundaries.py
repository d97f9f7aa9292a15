"""The layers keep to their places: handlers/ and models/ never import a chat platform SDK."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLATFORM_SDKS = {"slack_bolt", "slack_sdk", "botbuilder", "botframework", "apscheduler", "aiohttp"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_handlers_and_models_import_no_platform_sdk():
    offenders = {
        str(p.relative_to(ROOT)): sorted(imported_modules(p) & PLATFORM_SDKS)
        for folder in ("handlers", "models")
        for p in (ROOT / folder).rglob("*.py")
        if imported_modules(p) & PLATFORM_SDKS
    }
    assert offenders == {}


def test_the_check_itself_sees_an_import(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("from slack_sdk.models import blocks\nimport botbuilder.core\n")
    assert imported_modules(sample) & PLATFORM_SDKS == {"slack_sdk", "botbuilder"}


def test_only_config_reads_the_environment():
    readers = [str(p.relative_to(ROOT)) for folder in ("bot", "handlers", "models")
               for p in (ROOT / folder).rglob("*.py") if "os.environ" in p.read_text(encoding="utf-8")]
    assert readers == []
