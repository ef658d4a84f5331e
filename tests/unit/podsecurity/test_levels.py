"""Levels and versions parse exactly as PSA parses them."""

from __future__ import annotations

import pytest

from podwarden.podsecurity.levels import (
    LATEST,
    Level,
    PolicyValueError,
    Version,
    level_version,
    parse_level,
    parse_version,
)


@pytest.mark.parametrize("text", ["privileged", "baseline", "restricted"])
def test_levels(text):
    assert parse_level(text) == Level(text)


@pytest.mark.parametrize("text", ["Restricted", "", "strict", " baseline"])
def test_bad_levels(text):
    with pytest.raises(PolicyValueError, match="must be one of privileged, baseline, restricted"):
        parse_level(text)


@pytest.mark.parametrize(
    ("text", "minor"), [("v1.0", 0), ("v1.9", 9), ("v1.37", 37), ("v1.120", 120)]
)
def test_versions(text, minor):
    assert parse_version(text) == Version(minor)
    assert str(parse_version(text)) == text


@pytest.mark.parametrize("text", ["1.30", "v1.030", "v2.1", "v1", "v1.", "Latest", "v1.-1"])
def test_bad_versions(text):
    with pytest.raises(PolicyValueError, match=r"'latest' or 'v1\.<minor>'"):
        parse_version(text)


def test_latest_is_newest_and_prints_as_psa():
    assert parse_version("latest") is LATEST
    assert Version(999).older(LATEST) and not LATEST.older(Version(999))
    assert str(level_version("restricted", "latest")) == "restricted:latest"
    assert str(level_version("baseline", "v1.30")) == "baseline:v1.30"
