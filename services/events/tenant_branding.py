"""The MSP's look on what its clients see: the partnership review (services/report).

An optional `branding:` section of the tenant file. The logo is a local file (PNG,
JPEG or SVG) read when a report is made and embedded in it; a URL is refused, since
the report is made where nothing may be fetched and must be the same whenever it is made.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
LOGO_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
}
MAX_LOGO_BYTES = 512 * 1024


class Branding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    msp_name: str | None = Field(
        None, max_length=120, description="The MSP's name as its clients know it; else `tenant`."
    )
    logo: Path | None = Field(
        None,
        description="The absolute path of a local PNG, JPEG or SVG file, "
        f"at most {MAX_LOGO_BYTES // 1024} KiB; never a URL.",
    )
    primary_colour: str = Field("#1f4e79", description="Headings and proactive work (#rrggbb).")
    accent_colour: str = Field("#c0504d", description="Reactive work and attention (#rrggbb).")

    @field_validator("logo", mode="before")
    @classmethod
    def _local_file(cls, value: object) -> object:
        if isinstance(value, str) and re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", value):
            raise ValueError(
                f"{value[:80]!r} is a URL; give a local file path (the report never fetches)"
            )
        if value is not None and Path(str(value)).suffix.lower() not in LOGO_TYPES:
            raise ValueError(f"{value!s:.80}: a logo is a .png, .jpg, .jpeg or .svg file")
        if value is not None and not Path(str(value)).is_absolute():
            raise ValueError(
                f"{value!s:.80}: give the logo's absolute path (each service runs in a "
                "working directory of its own)"
            )
        return value

    @field_validator("primary_colour", "accent_colour")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _COLOUR.match(value):
            raise ValueError(f"{value[:20]!r} is not a colour; write it as #rrggbb")
        return value.lower()
