"""The registry validates its check list and inflates versions without gaps."""

from __future__ import annotations

import dataclasses

import pytest

from podwarden.podsecurity import checks, evaluate
from podwarden.podsecurity.checks.model import ALLOWED, Check, VersionedCheck, v
from podwarden.podsecurity.levels import LATEST, Level, LevelVersion, Version, level_version
from podwarden.podsecurity.registry import Registry, RegistryError, validate


def _ok(meta, spec):
    return ALLOWED


def test_default_checks_are_valid_and_cover_v1_0_to_v1_37():
    registry = evaluate.default_registry()
    assert registry.max_minor == 37
    for minor in range(38):
        for level in (Level.BASELINE, Level.RESTRICTED):
            assert registry.for_level(LevelVersion(level, Version(minor)))


def test_each_check_module_lists_strictly_increasing_versions():
    for check in checks.ALL:
        minors = [entry.minimum.minor for entry in check.versions]
        assert minors == sorted(set(minors)), check.id


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            [
                Check("a", Level.BASELINE, (VersionedCheck(v(0), _ok),)),
                Check("a", Level.BASELINE, (VersionedCheck(v(0), _ok),)),
            ],
            "multiple checks",
        ),
        ([Check("a", Level.PRIVILEGED, (VersionedCheck(v(0), _ok),))], "invalid level"),
        ([Check("a", Level.BASELINE, ())], "no versions"),
        (
            [Check("a", Level.BASELINE, (VersionedCheck(v(3), _ok), VersionedCheck(v(3), _ok)))],
            "strictly increasing",
        ),
        (
            [Check("a", Level.BASELINE, (VersionedCheck(v(5), _ok), VersionedCheck(v(2), _ok)))],
            "strictly increasing",
        ),
        ([Check("a", Level.BASELINE, (VersionedCheck(LATEST, _ok),))], "cannot be 'latest'"),
        (
            [Check("a", Level.BASELINE, (VersionedCheck(v(0), _ok, overrides=("b",)),))],
            "only restricted",
        ),
        (
            [Check("a", Level.RESTRICTED, (VersionedCheck(v(0), _ok, overrides=("zzz",)),))],
            "not a baseline check",
        ),
    ],
)
def test_invalid_check_lists_are_rejected(bad, message):
    with pytest.raises(RegistryError, match=message):
        validate(bad)


def test_versions_inflate_until_the_next_entry():
    first = lambda meta, spec: ALLOWED  # noqa: E731
    second = lambda meta, spec: ALLOWED  # noqa: E731
    registry = Registry(
        [Check("x", Level.BASELINE, (VersionedCheck(v(2), first), VersionedCheck(v(5), second)))]
    )

    def pick(minor):
        return [
            b.check_pod for b in registry.for_level(LevelVersion(Level.BASELINE, Version(minor)))
        ]

    assert pick(1) == []
    assert pick(2) == pick(4) == [first]
    assert pick(5) == [second]
    assert [b.check_pod for b in registry.for_level(LevelVersion(Level.BASELINE, LATEST))] == [
        second
    ]
    assert [b.check_pod for b in registry.for_level(LevelVersion(Level.BASELINE, Version(99)))] == [
        second
    ]


def test_privileged_runs_no_checks():
    assert evaluate.default_registry().for_level(level_version("privileged", "v1.30")) == ()


def test_restricted_order_is_baseline_ids_then_restricted_ids_sorted():
    ids = [
        b.id for b in evaluate.default_registry().for_level(level_version("restricted", "latest"))
    ]
    baseline = [i for i in ids if evaluate.default_registry().checks[i].level is Level.BASELINE]
    restricted = ids[len(baseline) :]
    assert baseline == sorted(baseline) and restricted == sorted(restricted)
    assert ids == baseline + restricted


@pytest.mark.parametrize(
    ("version", "present", "absent"),
    [
        (
            "v1.0",
            {
                "restrictedVolumes",
                "capabilities_baseline",
                "seccompProfile_baseline",
                "procMount",
            },
            {"hostPathVolumes", "capabilities_restricted", "allowPrivilegeEscalation"},
        ),
        (
            "v1.22",
            {"capabilities_restricted", "seccompProfile_restricted"},
            {"capabilities_baseline", "seccompProfile_baseline", "runAsUser"},
        ),
        ("v1.35", {"procMount_restricted", "runAsUser"}, {"procMount", "hostPathVolumes"}),
    ],
)
def test_restricted_overrides_replace_baseline_checks(version, present, absent):
    ids = {
        b.id for b in evaluate.default_registry().for_level(level_version("restricted", version))
    }
    assert present <= ids
    assert not (absent & ids)


def test_check_results_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ALLOWED.allowed = False  # type: ignore[misc]
