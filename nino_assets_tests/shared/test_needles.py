"""The one-pass search the privacy tests use finds what a search string by string finds."""

import random

from nino_assets_tests.support.needles import any_of, found_in


def test_the_trie_pattern_finds_exactly_the_needles_a_plain_search_finds():
    chance = random.Random(7)
    alphabet = b"AB12 |-"
    for _ in range(200):
        needles = {bytes(chance.choice(alphabet) for _ in range(chance.randint(2, 6))) for _ in range(12)}
        content = bytes(chance.choice(alphabet + b"xyz\x00") for _ in range(300))
        expected = {needle for needle in needles if needle in content}
        found = found_in(any_of(needles), content)
        assert found <= expected  # only needles, only those present
        assert bool(found) == bool(expected)
        # every occurrence is reported at its position: the longest needle starting there
        for needle in expected:
            start = content.find(needle)
            assert any(content.startswith(other, start) and len(other) >= len(needle) for other in found)
    assert found_in(any_of({b"AB123456C", b"AB1234"}), b"..AB123456C..") == {b"AB123456C"}
    assert found_in(any_of({b"SW1A 1AA"}), b"SW1A1AA") == set()
