"""Finding any of thousands of strings in large files in one pass: the strings as a trie, written as one regular
expression (a branch per next byte), which `re` matches with one test a byte at each position instead of one search
of the whole file a string."""

from __future__ import annotations

import re


def any_of(needles: set[bytes]) -> re.Pattern[bytes]:
    """A pattern matching exactly the given (non-empty) byte strings wherever they occur."""
    trie: dict = {}
    for needle in needles:
        node = trie
        for byte in needle:
            node = node.setdefault(byte, {})
        node[None] = {}  # a needle ends here

    def pattern(node: dict) -> bytes:
        ends = None in node
        branches = [re.escape(bytes([byte])) + pattern(child) for byte, child in sorted(
            (key, value) for key, value in node.items() if key is not None)]
        if not branches:
            return b""
        body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
        return b"(?:" + body + b")?" if ends else body

    return re.compile(pattern(trie))


def found_in(pattern: re.Pattern[bytes], content: bytes) -> set[bytes]:
    """The needles that occur in the content: at each position the longest that starts there, overlapping ones
    included (empty exactly when none occurs)."""
    return {match.group(1) for match in re.finditer(b"(?=(" + pattern.pattern + b"))", content)}
