"""Evaluation only: ConnectWise key_urls answered from a key file, never fetched."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from services.ingest.keys import SigningKeyCache, load_key_file

VENDOR = "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/system/callbacks/key?x=1"


def test_a_listed_key_url_is_answered_from_the_file_without_a_fetch(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({VENDOR: "scenario-key"}))
    fetched: list[str] = []

    def never(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(200, json={"signing_key": "served-key"})

    async def main() -> tuple[bytes, bytes]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(never)) as client:
            keys = SigningKeyCache(client, overrides=load_key_file(path))
            listed = await keys.get(VENDOR, refresh=True)  # a rotation check asks again
            other = await keys.get("https://eu.myconnectwise.net/key")
            return listed, other

    listed, other = asyncio.run(main())
    assert listed == b"scenario-key"
    assert other == b"served-key"  # a URL the file does not list is fetched as always
    assert fetched == ["https://eu.myconnectwise.net/key"]


@pytest.mark.parametrize("content", ["not json", "[]", '{"https://x": 3}', '{"https://x": ""}'])
def test_a_key_file_that_is_not_a_url_to_key_map_is_refused_by_name(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"keys\.json"):
        load_key_file(path)
