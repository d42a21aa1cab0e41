"""Versions of a published release: immutable folders, a manifest of checksums, and computed revision notes.

A release is published as `v1`; there are no scheduled revisions. Publishing again with the same content creates
nothing. Publishing different content (a correction) creates the next version beside the old ones, never over them,
with a revision note whose content is computed from the tables: which tables and cells changed, from what to what,
and the reason the team gives. A published version's files and folders are made read-only.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from nino_assets.publication.supplementary_tables import LAYOUTS
from nino_assets.shared.released_files import version_folder, versions

MANIFEST = "manifest.json"
REVISION_NOTE = "revision_note.md"
NOTE_MARKER = "<!-- revision note -->"
"""Where a corrected version's bulletin shows its revision note."""
CELLS_LISTED = 50


class RevisionRefused(Exception):
    pass


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_digests(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): sha256(path)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def folder_sha256(folder: Path) -> str:
    """One checksum for a whole folder: of its files' paths and checksums."""
    return hashlib.sha256(json.dumps(folder_digests(folder), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class CellChange:
    table: str
    row: tuple[str, ...]
    column: str
    before: str
    after: str

    @property
    def difference(self) -> str:
        if self.before.lstrip("-").isdigit() and self.after.lstrip("-").isdigit():
            return f"{int(self.after) - int(self.before):+,}"
        return "not comparable"


def _read_table(path: Path) -> tuple[list[str], dict[tuple[str, ...], list[str]], int]:
    """A table CSV keyed by its row labels (the columns its layout names as row columns)."""
    widths = {f"table_{layout.number}_{layout.name}.csv": len(layout.row_columns) for layout in LAYOUTS}
    with path.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    width = widths[path.name]
    return header, {tuple(row[:width]): row for row in rows}, width


def table_changes(before: Path, after: Path) -> tuple[list[CellChange], list[str]]:
    """Every cell that differs between two versions' tables, and tables or rows that appear or go."""
    changes, structural = [], []
    names = sorted({path.name for path in before.glob("*.csv")} | {path.name for path in after.glob("*.csv")})
    for name in names:
        if not (before / name).exists() or not (after / name).exists():
            structural.append(f"{name}: {'added' if (after / name).exists() else 'removed'}")
            continue
        header_before, rows_before, _ = _read_table(before / name)
        header_after, rows_after, width = _read_table(after / name)
        if header_before != header_after:
            structural.append(f"{name}: columns changed")
            continue
        for key in sorted(rows_before.keys() | rows_after.keys()):
            if key not in rows_before or key not in rows_after:
                structural.append(f"{name}: row {' / '.join(key)} {'added' if key in rows_after else 'removed'}")
                continue
            for column, old, new in zip(header_after[width:], rows_before[key][width:], rows_after[key][width:]):
                if old != new:
                    changes.append(CellChange(name, key, column, old, new))
    return changes, structural


def changes_by_table(changes: list[CellChange]) -> dict[str, int]:
    """How many cells changed in each table, in table order."""
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.table] = counts.get(change.table, 0) + 1
    return dict(sorted(counts.items()))


def revision_note(version: int, reason: str, changes: list[CellChange], structural: list[str]) -> str:
    by_table = changes_by_table(changes)
    lines = [f"# Revision note: version {version}", "", f"Reason given by the production team: {reason}", "",
             f"Cells changed: {len(changes)}, in {len(by_table)} table(s).", ""]
    lines += [f"- {table}: {count} cell(s)" for table, count in by_table.items()]
    lines += [f"- {item}" for item in structural]
    if changes:
        lines += ["", "| table | row | column | before | after | difference |", "|---|---|---|---|---|---|"]
        lines += [f"| {change.table} | {' / '.join(change.row)} | {change.column} | {change.before} | {change.after} "
                  f"| {change.difference} |" for change in changes[:CELLS_LISTED]]
        if len(changes) > CELLS_LISTED:
            lines.append(f"| ... and {len(changes) - CELLS_LISTED} more cells | | | | | |")
    return "\n".join(lines) + "\n"


def _note_html(note: str) -> str:
    import html

    return ('<section aria-labelledby="revision"><h2 id="revision">Revision</h2><pre class="revision-note">'
            + html.escape(note) + "</pre></section>")


@dataclass(frozen=True)
class Published:
    version: int
    folder: Path
    created: bool
    note: str = ""


def publish(candidate: Path, release_root: Path, reason: str = "") -> Published:
    """Publish the candidate folder as the release's next version, unless the latest version has the same content."""
    content = folder_digests(candidate)
    existing = versions(release_root)
    if existing:
        latest = version_folder(release_root, existing[-1])
        if json.loads((latest / MANIFEST).read_text(encoding="utf-8"))["content"] == content:
            return Published(existing[-1], latest, created=False)
        if not reason.strip():
            raise RevisionRefused(f"{release_root.name} is published as v{existing[-1]} and this content differs: "
                                  "a correction needs the reason for its revision note")
    version = existing[-1] + 1 if existing else 1
    target = version_folder(release_root, version)
    staging = release_root / f".v{version}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(candidate, staging)
    note = ""
    if existing:
        changes, structural = table_changes(version_folder(release_root, existing[-1]) / "tables", candidate / "tables")
        note = revision_note(version, reason.strip(), changes, structural)
        (staging / REVISION_NOTE).write_text(note, encoding="utf-8")
        bulletin = staging / "bulletin" / "index.html"
        if bulletin.exists():
            bulletin.write_text(bulletin.read_text(encoding="utf-8").replace(NOTE_MARKER, _note_html(note)),
                                encoding="utf-8")
    manifest = {"release": release_root.name, "version": version, "content": content,
                "files": folder_digests(staging), "revision_reason": reason.strip() or None}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    staging.rename(target)  # the version appears whole or not at all
    for path in sorted(target.rglob("*"), reverse=True):
        path.chmod(0o444 if path.is_file() else 0o555)
    target.chmod(0o555)
    return Published(version, target, created=True, note=note)
