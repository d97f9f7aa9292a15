"""The Teams app package: a manifest Teams accepts, icons of the sizes it wants, commands Surge knows."""
from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path

from handlers.core import Surge

PACKAGE = Path(__file__).resolve().parents[2] / "teams" / "appPackage"
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def png_info(path: Path) -> tuple[int, int, int]:
    """(width, height, colour type) of a PNG, checking its signature and every chunk's CRC."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, header, chunks = 8, None, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        chunks.append(kind)
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        pos += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND" and b"IDAT" in chunks
    return header[0], header[1], header[3]


def test_manifest_fields_and_limits():
    m = json.loads((PACKAGE / "manifest.json").read_text(encoding="utf-8"))
    assert m["manifestVersion"] == "1.17" and "v1.17" in m["$schema"]
    assert GUID.match(m["id"]) and GUID.match(m["bots"][0]["botId"])
    assert len(m["name"]["short"]) <= 30 and len(m["description"]["short"]) <= 80
    assert len(m["description"]["full"]) <= 4000 and len(m["developer"]["name"]) <= 32
    assert all(m["developer"][k].startswith("https://") for k in ("websiteUrl", "privacyUrl", "termsOfUseUrl"))
    assert re.match(r"^#[0-9A-Fa-f]{6}$", m["accentColor"])
    bot = m["bots"][0]
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    # every scope the bot is in lists its commands (Teams shows them as suggestions), 10 at most each
    assert {scope for listing in bot["commandLists"] for scope in listing["scopes"]} == set(bot["scopes"])
    for listing in bot["commandLists"]:
        assert 1 <= len(listing["commands"]) <= 10
        for command in listing["commands"]:
            assert len(command["title"]) <= 32 and len(command["description"]) <= 128


def test_every_listed_command_is_one_surge_knows(core: Surge):
    m = json.loads((PACKAGE / "manifest.json").read_text(encoding="utf-8"))
    known = set(core.commands())
    for listing in m["bots"][0]["commandLists"]:
        for command in listing["commands"]:
            assert command["title"].split()[0] in known


def test_icons():
    assert png_info(PACKAGE / "color.png") == (192, 192, 2)  # full colour
    assert png_info(PACKAGE / "outline.png") == (32, 32, 6)  # white on transparent
