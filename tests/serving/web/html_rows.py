"""Rows of the NBO table read with the standard library's HTML parser (no lxml needed)."""

from __future__ import annotations

from html.parser import HTMLParser


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, object]] = []
        self._cells: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("data-client"):
            self.rows.append({"client_id": found["data-client"], "cells": []})
            self._cells = []
        elif tag == "td" and self._cells is not None:
            self._cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._cells is not None:
            self.rows[-1]["cells"] = [" ".join(c.split()) for c in self._cells]
            self._cells = None

    def handle_data(self, data: str) -> None:
        if self._cells:
            self._cells[-1] += data


def nbo_rows(html: str) -> list[tuple[str, list[str]]]:
    """(client id, cell texts) per client row, in page order."""
    parser = _Rows()
    parser.feed(html)
    return [(str(r["client_id"]), list(r["cells"])) for r in parser.rows]  # type: ignore[call-overload]


def money_value(text: str) -> float:
    """``1 234 ₽`` -> 1234.0 (the pages print whole units and the currency)."""
    return float(text.replace("\u202f", "").replace("\u00a0", "").replace("₽", "").replace(" ", ""))
