"""A small OpenDocument spreadsheet (ODS) writer laid out as official statistics spreadsheets are expected to be.

Each sheet holds text lines above at most one table: its header row is marked as a header row (so that a screen
reader announces it), and there are no merged cells and no blank rows. The file is byte-reproducible: the zip entries
carry a fixed date and are written in a fixed order, and nothing in the content depends on when it was written.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
FIXED_ZIP_DATE = (2002, 1, 1, 0, 0, 0)
"""Every zip entry's timestamp: the series' start, so that the same content gives the same bytes."""

Cell = str | int | None
_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"'
)


@dataclass(frozen=True)
class Sheet:
    """A worksheet: lines of text (the first is the title, shown as a heading), then an optional table."""

    name: str
    lines: Sequence[str]
    header: Sequence[str] = ()
    rows: Sequence[Sequence[Cell]] = field(default=())
    column_widths_cm: Sequence[float] = ()

    def __post_init__(self):
        if len(self.name) > 31 or any(character in self.name for character in "[]*?:/\\'"):
            raise ValueError(f"sheet name {self.name!r}: at most 31 characters, none of []*?:/\\'")
        for number, row in enumerate(self.rows, start=1):
            if len(row) != len(self.header):
                raise ValueError(f"sheet {self.name!r}, row {number}: {len(row)} cells under {len(self.header)} "
                                 "column headers")


def _cell(value: Cell, style: str | None = None) -> str:
    styled = f' table:style-name="{style}"' if style else ""
    if value is None or value == "":
        return f"<table:table-cell{styled}/>"
    if isinstance(value, bool) or not isinstance(value, int):
        return f'<table:table-cell{styled} office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'
    return (f'<table:table-cell{styled} office:value-type="float" office:value="{value}">'
            f"<text:p>{value}</text:p></table:table-cell>")


def _row(cells: Sequence[Cell], style: str | None = None) -> str:
    return "<table:table-row>" + "".join(_cell(value, style) for value in cells) + "</table:table-row>"


def _sheet_xml(index: int, sheet: Sheet) -> tuple[str, str]:
    """The sheet's table element and its column styles."""
    widths = list(sheet.column_widths_cm) or [8.0] + [3.5] * max(len(sheet.header) - 1, 0)
    styles = "".join(
        f'<style:style style:name="s{index}c{number}" style:family="table-column">'
        f'<style:table-column-properties style:column-width="{width:.2f}cm"/></style:style>'
        for number, width in enumerate(widths)
    )
    columns = "".join(f'<table:table-column table:style-name="s{index}c{number}"/>' for number in range(len(widths)))
    body = _row([sheet.lines[0]], "title") + "".join(_row([line]) for line in sheet.lines[1:])
    if sheet.header:
        body += "<table:table-header-rows>" + _row(sheet.header, "header") + "</table:table-header-rows>"
        body += "".join(_row(row) for row in sheet.rows)
    return f"<table:table table:name={quoteattr(sheet.name)}>{columns}{body}</table:table>", styles


def ods_bytes(sheets: Sequence[Sheet], title: str) -> bytes:
    """The spreadsheet as bytes: the same sheets always give the same bytes."""
    names = [sheet.name for sheet in sheets]
    if len(set(names)) != len(names):
        raise ValueError(f"sheet names repeat: {names}")
    tables, column_styles = zip(*(_sheet_xml(index, sheet) for index, sheet in enumerate(sheets)))
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_NAMESPACES} office:version="1.3">'
        "<office:automatic-styles>" + "".join(column_styles)
        + '<style:style style:name="title" style:family="table-cell"><style:text-properties fo:font-size="14pt" '
        'fo:font-weight="bold"/></style:style>'
        '<style:style style:name="header" style:family="table-cell"><style:paragraph-properties fo:text-align="start"/>'
        '<style:text-properties fo:font-weight="bold"/></style:style>'
        "</office:automatic-styles><office:body><office:spreadsheet>" + "".join(tables)
        + "</office:spreadsheet></office:body></office:document-content>"
    )
    meta = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta {_NAMESPACES} office:version="1.3">'
        f"<office:meta><dc:title>{escape(title)}</dc:title><dc:language>en-GB</dc:language></office:meta>"
        "</office:document-meta>"
    )
    styles = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-styles {_NAMESPACES} office:version="1.3">'
        '<office:styles><style:default-style style:family="table-cell"><style:text-properties '
        'style:font-name="Arial" fo:font-size="11pt"/></style:default-style></office:styles></office:document-styles>'
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
        f'<manifest:file-entry manifest:full-path="/" manifest:version="1.3" manifest:media-type="{MIMETYPE}"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # the mimetype comes first and uncompressed, so that the file type is readable at a fixed offset
        for name, text, compression in (
            ("mimetype", MIMETYPE, zipfile.ZIP_STORED),
            ("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED),
            ("meta.xml", meta, zipfile.ZIP_DEFLATED),
            ("styles.xml", styles, zipfile.ZIP_DEFLATED),
            ("content.xml", content, zipfile.ZIP_DEFLATED),
        ):
            entry = zipfile.ZipInfo(name, date_time=FIXED_ZIP_DATE)
            entry.compress_type = compression
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, text.encode("utf-8"))
    return buffer.getvalue()
