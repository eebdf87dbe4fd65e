"""The typed-ahead suggestion cache."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sc2_lsp.suggestions import BEFORE_CHARS, SuggestionCache

URI = "file:///a.py"


def test_exact_state_returns_the_suggestion() -> None:
    cache = SuggestionCache()
    cache.put(URI, "total = ", "\n", "sum(items)")
    hit = cache.get(URI, "total = ", "\n")
    assert hit is not None and (hit.text, hit.typed, hit.origin) == ("sum(items)", 0, "model")


def test_typing_through_serves_the_exact_remainder() -> None:
    cache = SuggestionCache()
    cache.put(URI, "total = ", "\n", "sum(items)")
    for typed in range(1, len("sum(items)")):
        hit = cache.get(URI, "total = " + "sum(items)"[:typed], "\n")
        assert hit is not None and hit.text == "sum(items)"[typed:] and hit.typed == typed


def test_diverging_or_finishing_misses() -> None:
    cache = SuggestionCache()
    cache.put(URI, "total = ", "\n", "sum(items)")
    assert cache.get(URI, "total = max", "\n") is None
    assert cache.get(URI, "total = sum(items)", "\n") is None
    assert cache.get(URI, "total = s", ")\n") is None
    assert cache.get("file:///b.py", "total = s", "\n") is None


def test_capacity_evicts_least_recent() -> None:
    cache = SuggestionCache(capacity=2)
    cache.put(URI, "a", "", "1")
    cache.put(URI, "b", "", "2")
    assert cache.get(URI, "a", "") is not None
    cache.put(URI, "c", "", "3")
    assert cache.get(URI, "b", "") is None and cache.get(URI, "a", "") is not None


def test_long_documents_key_on_a_tail() -> None:
    cache = SuggestionCache()
    head = "# filler\n" * 1000
    cache.put(URI, head + "x = ", "", "compute()")
    hit = cache.get(URI, "different start\n" * 10 + head[-BEFORE_CHARS:] + "x = comp", "")
    assert hit is not None and hit.text == "ute()"


@given(st.text(max_size=300), st.text(min_size=2, max_size=40), st.text(max_size=20))
def test_any_typed_prefix_of_a_suggestion_hits(before: str, suggestion: str, after: str) -> None:
    cache = SuggestionCache()
    cache.put(URI, before, after, suggestion)
    typed = len(suggestion) // 2
    hit = cache.get(URI, before + suggestion[:typed], after)
    assert hit is not None
    assert hit.text == suggestion[hit.typed :]
    assert (before + suggestion[:typed]).endswith(suggestion[: hit.typed])


def test_alternatives_are_kept_best_first_and_distinct() -> None:
    cache = SuggestionCache()
    stored = cache.put(URI, "total = ", "\n", ["sum(items)", "sum(items)", "", "0"])
    assert [item.text for item in stored] == ["sum(items)", "0"]
    hits = cache.get_all(URI, "total = ", "\n", limit=5)
    assert [(hit.text, hit.lineage) for hit in hits] == [
        (item.text, item.lineage) for item in stored
    ]
    assert len({item.lineage for item in stored}) == 2
    assert len(cache.get_all(URI, "total = ", "\n", limit=1)) == 1


def test_what_remains_of_a_suggestion_keeps_its_lineage() -> None:
    cache = SuggestionCache()
    (first, second) = cache.put(URI, "x = ", "\n", ["foo(bar)", "fizz"])
    hits = cache.get_all(URI, "x = f", "\n", limit=3)
    assert [(hit.text, hit.typed, hit.lineage) for hit in hits] == [
        ("oo(bar)", 1, first.lineage),
        ("izz", 1, second.lineage),
    ]
    assert [hit.text for hit in cache.get_all(URI, "x = foo", "\n", limit=3)] == ["(bar)"]


def test_the_rest_of_a_suggestion_being_taken_comes_before_one_computed_here() -> None:
    cache = SuggestionCache()
    (block,) = cache.put(URI, "x = ", "\n", "foo(bar)\nbaz()")
    (prefetched,) = cache.put(URI, "x = foo(bar)", "\n", "  # done", origin="prefetch")
    hits = cache.get_all(URI, "x = foo(bar)", "\n", limit=3)
    assert [(hit.text, hit.lineage) for hit in hits] == [
        ("\nbaz()", block.lineage),
        ("  # done", prefetched.lineage),
    ]
    assert cache.get(URI, "x = foo(bar)", "\n") == hits[0]


def test_a_new_suggestion_for_a_state_keeps_the_earlier_ones_behind_it() -> None:
    cache = SuggestionCache()
    (prefetched,) = cache.put(URI, "x = ", "\n", "a()", origin="prefetch")
    (computed,) = cache.put(URI, "x = ", "\n", "b()")
    hits = cache.get_all(URI, "x = ", "\n", limit=3)
    assert [(hit.text, hit.lineage) for hit in hits] == [
        ("b()", computed.lineage),
        ("a()", prefetched.lineage),
    ]
