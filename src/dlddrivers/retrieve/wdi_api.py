"""The World Bank API v2 client: the fallback for a WDI indicator that the CSV mirror lacks.

:func:`wdi_api_records` walks the JSON pages of an ``api_url`` (``page=1..pages``) and checks
each answer; :func:`wdi_api_csv` writes the records in the mirror's CSV layout
(``Country Name,Country Code,Year,Value``); :func:`wdi_api_file` does both and refuses an
indicator without values. The HTTP transfer of each page is the caller's (a ``get_page``
callable), so retries, deadline and temporary files stay in one place (:mod:`.transfer`).
"""

from __future__ import annotations

import csv
import io
import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import RawFileError

__all__ = ["WDI_COLUMNS", "wdi_api_csv", "wdi_api_file", "wdi_api_records", "with_page"]

WDI_COLUMNS = ["Country Name", "Country Code", "Year", "Value"]


def with_page(url: str, page: int) -> str:
    """``url`` with its ``page`` query parameter set to ``page`` (other parameters kept)."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
             if k != "page"]
    query.append(("page", str(page)))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def wdi_api_records(api_url: str, get_page: Callable[[str, int], bytes]) -> list[dict]:
    """All records of the World Bank API v2 JSON pages for ``api_url``.

    ``get_page(url, page)`` returns the body of one page URL. Raises
    :class:`~dlddrivers.errors.RawFileError` naming the page URL when an answer is not JSON, is
    the API's error message (an unknown indicator), or lacks the ``[metadata, records]`` shape or
    an integer page count.
    """
    records: list[dict] = []
    page, pages = 1, 1
    while page <= pages:
        url = with_page(api_url, page)
        body = get_page(url, page)
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RawFileError(url, None, "a World Bank API v2 JSON answer", str(exc)[:200]) from exc
        if (isinstance(doc, list) and doc and isinstance(doc[0], Mapping)
                and "message" in doc[0]):
            raise RawFileError(url, "message", "data for this indicator code", doc[0]["message"])
        if not (isinstance(doc, list) and len(doc) == 2 and isinstance(doc[0], Mapping)):
            raise RawFileError(url, None, "a JSON list [metadata, records]", str(doc)[:200])
        try:
            pages = int(doc[0].get("pages") or 1)
        except (TypeError, ValueError) as exc:
            raise RawFileError(url, "pages", "an integer page count", doc[0].get("pages")) from exc
        records.extend(doc[1] or [])
        page += 1
    return records


def _wdi_value(v: Any) -> str:
    return format(float(v), ".15G")


def wdi_api_csv(records: Iterable[Mapping[str, Any]], *, name: str = "<api>") -> bytes:
    """World Bank API v2 records -> the mirror's CSV (``Country Name,Country Code,Year,Value``).

    Rows only where ``value`` is not null, sorted by country code then year, values formatted
    with 15 significant digits (``%.15G``, as in the mirror), CRLF line endings.
    """
    rows = []
    for r in records:
        v = r.get("value")
        if v is None or v == "":
            continue
        country = r.get("country") or {}
        iso3 = r.get("countryiso3code") or country.get("id")
        date = r.get("date")
        if not iso3 or date is None:
            raise RawFileError(name, "countryiso3code/date", "a country code and a date in every record", r)
        try:
            value = _wdi_value(v)
        except (TypeError, ValueError) as exc:
            raise RawFileError(name, "value", "a number", v) from exc
        rows.append((str(country.get("value", "")), str(iso3), str(date), value))
    rows.sort(key=lambda t: (t[1], int(t[2]) if t[2].isdigit() else 0, t[2]))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(WDI_COLUMNS)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def wdi_api_file(api_url: str, code: str, get_page: Callable[[str, int], bytes]) -> bytes:
    """The mirror's CSV of indicator ``code`` built from every API page of ``api_url``.

    Raises :class:`~dlddrivers.errors.RawFileError` naming ``api_url`` when no record has a value.
    """
    data = wdi_api_csv(wdi_api_records(api_url, get_page), name=api_url)
    if len(data) <= len(",".join(WDI_COLUMNS)) + 2:
        # from None: called while a 404 of the mirror is handled; that 404 is not the cause
        raise RawFileError(api_url, "value", f"at least one value for {code}", "no values") from None
    return data
