"""Rule-set semantics as data: what is redirected, refused, exempt; validation messages."""

from __future__ import annotations

import pytest

from podwarden.api import metadata_addresses
from podwarden.netfilter import endpoints, iptables, nft, render
from podwarden.netfilter.render import CgroupMatch, HostPort, Rule, RuleSpec, RuleSpecError


def spec(**overrides: object) -> RuleSpec:
    base: dict[str, object] = {
        "provider": "aws",
        "pod_interfaces": ("cali+",),
        "proxy4": HostPort("10.0.0.1", 8181),
    }
    return RuleSpec(**{**base, **overrides})  # type: ignore[arg-type]


def dnat_targets(ruleset: render.RuleSet) -> set[tuple[str, int]]:
    return {(r.daddr[0], r.dport or 0) for r in ruleset.chain("to_proxy").rules}


def test_each_provider_redirects_its_endpoints_only():
    assert dnat_targets(render.render(spec(provider="aws"))) == {
        ("169.254.169.254", 80),
        ("169.254.170.2", 80),
        ("169.254.170.23", 80),
    }
    assert dnat_targets(render.render(spec(provider="gce"))) == {
        ("169.254.169.254", 80),
        ("169.254.169.254", 8080),
    }
    assert dnat_targets(render.render(spec(provider="azure"))) == {("169.254.169.254", 80)}
    assert dnat_targets(render.render(spec(provider="alibaba"))) == {("100.100.100.200", 80)}


def test_ipv6_endpoints_are_redirected_only_to_an_ipv6_proxy():
    v4_only = render.render(spec())
    assert all(rule.family == 4 for rule in v4_only.chain("to_proxy").rules)
    dual = render.render(spec(proxy6=HostPort("fd00::1", 8181)))
    v6 = {r.daddr[0] for r in dual.chain("to_proxy").rules if r.family == 6}
    assert v6 == {"fd00:ec2::254", "::ffff:169.254.169.254", "fd00:ec2::23"}


def test_wireserver_is_never_redirected_and_every_metadata_address_is_refused():
    for provider in endpoints.PROVIDERS:
        ruleset = render.render(spec(provider=provider))
        assert metadata_addresses.WIRESERVER_V4 not in {
            r.daddr[0] for r in ruleset.chain("to_proxy").rules
        }
        refused = {
            a
            for r in ruleset.chain("refuse_metadata").rules
            if r.verdict.kind == "reject_tcp"
            for a in r.daddr
        }
        assert refused == set(endpoints.METADATA_V4) | set(endpoints.METADATA_V6)


def test_dns_passes_before_any_refusal_and_is_never_redirected():
    rules = render.render(spec(provider="gce")).chain("refuse_metadata").rules
    kinds = [(r.verdict.kind, r.dport) for r in rules]
    first_reject = next(i for i, (kind, _) in enumerate(kinds) if kind.startswith("reject"))
    passes = {(r.proto, r.dport) for r in rules[:first_reject] if not r.ct_reply}
    assert passes == {("udp", 53), ("tcp", 53)}
    assert all(r.dport != 53 for r in render.render(spec()).chain("to_proxy").rules)


def test_only_tcp_replies_to_connections_opened_towards_pods_pass_the_refusal():
    """Azure LB probes come from 168.63.129.16; what pods originate stays refused."""
    rules = render.render(spec(provider="azure")).chain("refuse_metadata").rules
    replies = [r for r in rules if r.ct_reply]
    assert replies == [render.Rule(render.Verdict("return"), proto="tcp", ct_reply=True)]
    assert rules[0] is replies[0]  # before any refusal
    assert replies[0].daddr == () and replies[0].dport is None


def test_fail_closed_only_has_no_nat_at_all():
    ruleset = render.render(spec(proxy4=None, fail_closed_only=True))
    assert {c.table for c in ruleset.chains} == {"filter"}
    assert not ruleset.localnet_guard


def test_loopback_proxy_brings_the_localnet_guard_and_a_node_address_does_not():
    guarded = render.render(spec(proxy4=HostPort("127.0.0.1", 988)))
    assert guarded.localnet_guard
    guard = guarded.chain("localnet_guard").rules
    assert guard[0].ct_dnat and guard[0].daddr == ("127.0.0.1",) and guard[0].dport == 988
    assert guard[-1].verdict.kind == "drop" and guard[-1].daddr == ("127.0.0.0/8",)
    assert not render.render(spec()).localnet_guard


def test_host_network_rules_exempt_the_agent_before_matching_the_pod_cgroup():
    pods = CgroupMatch("kubepods", 1, "kubepods")
    agent = CgroupMatch("kubepods/agent", 2, "kubepods/agent")
    ruleset = render.render(spec(pod_cgroup=pods, exempt_cgroups=(agent,)))
    for name in ("nat_output", "filter_output"):
        rules = ruleset.chain(name).rules
        assert [(r.cgroup, r.verdict.kind) for r in rules] == [(agent, "return"), (pods, "jump")]
    assert all(c.name not in ("nat_output", "filter_output") for c in render.render(spec()).chains)


def test_rule_comments_are_stable_and_differ_with_content():
    one = render.render(spec())
    assert one == render.render(spec())
    comments = [r.comment for c in one.chains for r in c.rules]
    assert all(c.startswith("podwarden:") for c in comments)
    other = render.render(spec(proxy4=HostPort("10.0.0.1", 8182)))
    assert one.chain("to_proxy").rules[0].comment != other.chain("to_proxy").rules[0].comment


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"provider": "oracle"}, "provider: 'oracle' is not one of aws, gce, azure, alibaba"),
        ({"pod_interfaces": ()}, "pod_interface: at least one pattern is required"),
        ({"pod_interfaces": ("cali*",)}, "pod_interface: 'cali*' is not an interface name"),
        ({"pod_interfaces": ("averyveryverylongname",)}, "is not an interface name"),
        ({"proxy4": HostPort("fd00::1", 1)}, "proxy: 'fd00::1' is not an IPv4 address"),
        ({"proxy6": HostPort("::1", 1)}, "proxy6: '::1' must be a non-loopback IPv6 address"),
        ({"proxy4": None}, "proxy: required unless fail_closed_only is set"),
    ],
)
def test_invalid_specs_are_refused_with_the_setting_named(
    overrides: dict[str, object], message: str
):
    with pytest.raises(RuleSpecError, match=message.replace("(", r"\(").replace("*", r"\*")):
        spec(**overrides)


def test_nft_rule_text_for_each_verdict():
    def text(**fields: object) -> str:
        return nft.rule_text(Rule(**fields))  # type: ignore[arg-type]

    assert text(verdict=render.Verdict("jump", "to_proxy"), iif="cali+", comment="c") == (
        'iifname "cali*" jump to_proxy comment "c"'
    )
    assert text(
        verdict=render.Verdict("dnat", "fd00::1", 80),
        family=6,
        daddr=("fd00:ec2::254",),
        proto="tcp",
        dport=80,
        comment="c",
    ) == ('ip6 daddr fd00:ec2::254 tcp dport 80 dnat ip6 to [fd00::1]:80 comment "c"')
    assert text(
        verdict=render.Verdict("reject_tcp"),
        family=4,
        daddr=("1.1.1.1", "2.2.2.2"),
        proto="tcp",
        comment="c",
    ) == ('ip daddr { 1.1.1.1, 2.2.2.2 } meta l4proto tcp reject with tcp reset comment "c"')


def test_iptables_signature_round_trips_through_save_output():
    ruleset = render.render(
        spec(proxy6=HostPort("fd00::1", 8181), pod_cgroup=CgroupMatch("kubepods", 1, "kubepods"))
    )
    for family in (4, 6):
        script = iptables.restore_script(ruleset, family, {})  # type: ignore[arg-type]
        # iptables-save prints -I as -A; the rest of the batch is save-shaped already
        saved = (
            script.replace("-I PREROUTING 1", "-A PREROUTING")
            .replace("-I OUTPUT 1", "-A OUTPUT")
            .replace("-I FORWARD 1", "-A FORWARD")
            .replace("-I INPUT 1", "-A INPUT")
        )
        assert iptables.parse_save(saved) == iptables.expected_signature(ruleset, family)  # type: ignore[arg-type]


def test_iptables_reapply_does_not_duplicate_jumps_and_drops_stale_chains():
    full = render.render(spec(proxy4=HostPort("127.0.0.1", 988)))
    live = iptables.expected_signature(full, 4)
    again = iptables.restore_script(full, 4, live)
    assert "-I " not in again and "-X " not in again
    boot = render.render(spec(proxy4=None, fail_closed_only=True))
    shrink = iptables.restore_script(boot, 4, live)
    assert "-X PODWARDEN-TO-PROXY" in shrink and "-X PODWARDEN-LOCALNET-GUARD" in shrink
    assert (
        "-D PREROUTING -m comment --comment podwarden:jump-nat_prerouting "
        "-j PODWARDEN-NAT-PREROUTING"
    ) in shrink


def test_iptables_removal_deletes_only_our_jumps_and_chains():
    live = {
        "nat/PREROUTING": ["podwarden:jump-nat_prerouting"],
        "nat/PODWARDEN-NAT-PREROUTING": ["x"],
        "filter/FORWARD": ["podwarden:jump-filter_forward"],
        "filter/PODWARDEN-FILTER-FORWARD": [],
    }
    script = iptables.removal_script(live)
    assert script.splitlines() == [
        "*nat",
        "-D PREROUTING -m comment --comment podwarden:jump-nat_prerouting"
        " -j PODWARDEN-NAT-PREROUTING",
        ":PODWARDEN-NAT-PREROUTING - [0:0]",
        "-X PODWARDEN-NAT-PREROUTING",
        "COMMIT",
        "*filter",
        "-D FORWARD -m comment --comment podwarden:jump-filter_forward -j PODWARDEN-FILTER-FORWARD",
        ":PODWARDEN-FILTER-FORWARD - [0:0]",
        "-X PODWARDEN-FILTER-FORWARD",
        "COMMIT",
    ]


def test_iptables_jump_below_another_rule_is_drift_and_is_moved_back_first():
    ruleset = render.render(spec())
    saved = (
        "*filter\n"
        "-A FORWARD -j ACCEPT\n"
        "-A FORWARD -m comment --comment podwarden:jump-filter_forward"
        " -j PODWARDEN-FILTER-FORWARD\n"
        "COMMIT\n"
    )
    live = iptables.parse_save(saved)
    assert live["filter/FORWARD"] == ["podwarden:jump-filter_forward@2"]
    expected = iptables.expected_signature(ruleset, 4)
    assert expected["filter/FORWARD"] == ["podwarden:jump-filter_forward@1"]
    script = iptables.restore_script(ruleset, 4, live).splitlines()
    jump = "-m comment --comment podwarden:jump-filter_forward -j PODWARDEN-FILTER-FORWARD"
    assert script.index(f"-D FORWARD {jump}") < script.index(f"-I FORWARD 1 {jump}")
    removal = iptables.removal_script(live)
    assert f"-D FORWARD {jump}" in removal and "@" not in removal
