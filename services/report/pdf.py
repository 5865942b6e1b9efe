"""The report as PDF: WeasyPrint over the rendered HTML (needs Debian's pango; the
README's set-up installs it). The HTML is self-contained (inline CSS, charts and logo
as data URIs), so nothing is fetched: a URL in it would be refused."""

from __future__ import annotations

from typing import Any


class PdfUnavailable(RuntimeError):
    """WeasyPrint cannot load its system libraries (pango)."""


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> Any:
    if url.startswith("data:"):
        from weasyprint.urls import default_url_fetcher

        return default_url_fetcher(url)
    raise ValueError(f"the report fetches nothing; refused {url[:80]!r}")


def html_to_pdf(html: str) -> bytes:
    try:
        from weasyprint import HTML
    except OSError as exc:  # pango missing: WeasyPrint's import loads it
        raise PdfUnavailable(
            f"PDF needs pango: apt-get install libpango-1.0-0 libpangoft2-1.0-0 ({exc})"
        ) from None
    pdf: bytes = HTML(string=html, url_fetcher=_no_fetch).write_pdf()
    return pdf
