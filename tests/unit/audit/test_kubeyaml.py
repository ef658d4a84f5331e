"""kubeyaml: kubectl's document splitting, go-yaml's merge order and alias bound,
and the bounds that keep a hostile document from exhausting the stack."""

from __future__ import annotations

import pytest

from podwarden.audit import kubeyaml
from podwarden.audit.kubeyaml import Refused


def read(text: str) -> list[object]:
    return [document.value for document in kubeyaml.documents(text)]


def refusal(text: str) -> tuple[int, str]:
    with pytest.raises(Refused) as caught:
        read(text)
    return caught.value.line, str(caught.value)


def test_go_yaml_alias_ratio_table() -> None:
    """decode.go allowedAliasRatio: 99% up to 400,000 values, 10% from 4,000,000."""
    assert kubeyaml.allowed_alias_ratio(1_000) == 0.99
    assert kubeyaml.allowed_alias_ratio(400_000) == 0.99
    assert kubeyaml.allowed_alias_ratio(2_200_000) == pytest.approx(0.545)
    assert kubeyaml.allowed_alias_ratio(4_000_000) == 0.10
    assert kubeyaml.allowed_alias_ratio(9_000_000) == 0.10


def test_sections_follow_kubectls_line_splitting() -> None:
    text = "a: 1\r\n--- # comment\r\nb: 2\n---\n---\nc: 3"
    assert list(kubeyaml.sections(text)) == [(0, "a: 1\n"), (2, "b: 2\n"), (5, "c: 3\n")]
    assert read(text) == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert refusal("a: 1\n--- {b: 2}\n") == (2, "invalid YAML document separator: {b: 2}")


def test_lines_are_lines_of_the_file() -> None:
    documents = list(kubeyaml.documents("a: 1\n---\n\nb: 2\n---\nc: [1,\n  2]\n"))
    assert [d.line for d in documents] == [1, 4, 6]
    with pytest.raises(Refused) as caught:
        list(kubeyaml.documents("a: 1\n---\n\nb: 2\n---\nc: [1,\n  y]\n"))
    assert caught.value.line == 7


def test_merges_in_go_yaml_order() -> None:
    assert read("<<: [{a: 1, b: 1}, {a: 2, c: 2}]\nc: 3\n") == [{"a": 1, "b": 1, "c": 3}]
    base = "x: &x {a: 1}\n"
    assert read(base + "p:\n  <<: *x\n  b: 2\n") == [{"x": {"a": 1}, "p": {"a": 1, "b": 2}}]
    line, message = refusal(base + "p:\n  a: 2\n  <<: *x\n")
    assert line == 4
    assert message.startswith("p: the `<<` merge overrides 'a' written before it on line 3")


def test_an_unrelated_key_set_twice_through_merges_is_refused() -> None:
    line, message = refusal("<<: {1: a}\n'1': b\n")
    assert line == 2
    assert "both become the JSON key '1'" in message


@pytest.mark.parametrize(
    "text",
    [
        "a0: &a0 {x: 1}\n" + "".join(f"a{i}: &a{i} {{<<: *a{i - 1}}}\n" for i in range(1, 2000)),
        "a0: &a0 {x: 1}\n" + "".join(f"a{i}: &a{i} {{z: *a{i - 1}}}\n" for i in range(1, 2000)),
        "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "a: " + "{<<: " * 300 + "{}" + "}" * 300 + "\n",
    ],
    ids=["merge-chain", "alias-chain", "flow-nesting", "merge-nesting"],
)
def test_deep_documents_are_refused_not_a_recursion_error(text: str) -> None:
    _, message = refusal(text)
    assert "nested more than 200 levels deep" in message or (
        message == "invalid YAML: exceeded maximum nesting depth"  # libyaml's own bound
    )


def test_nesting_within_the_bound_is_read() -> None:
    chain = "a0: &a0 {x: 1}\n" + "".join(f"a{i}: &a{i} {{<<: *a{i - 1}}}\n" for i in range(1, 150))
    assert read(chain)[0]["a149"] == {"x": 1}  # type: ignore[index]
    assert read("a: " + "[" * 190 + "]" * 190 + "\n")


def test_long_paths_are_shortened_in_messages() -> None:
    text = "a: " + "{b: " * 30 + "y" + "}" * 30 + "\n"
    _, message = refusal(text)
    assert message.startswith("a.b.b.b…b.b.b.b: ambiguous: `y` is true")
