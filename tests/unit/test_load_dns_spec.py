"""DnsOptions and dns:// hosts: validated in the suite's process, before any Locust child starts."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from chaos.load import DnsOptions, LoadSpec, UserOptions
from chaos.load.spec import BUILTIN_USERS, host_port, parse_user_ref


def test_defaults() -> None:
    opts = DnsOptions()
    assert opts.protocol == "udp" and opts.timeout_s is None
    (query,) = opts.queries
    assert (query.name, query.type, query.weight, query.expect_rcode) == ("example.org", "A", 1,
                                                                          "NOERROR")


def test_types_and_rcodes_are_normalised() -> None:
    opts = DnsOptions.model_validate({
        "queries": [{"name": "_http._tcp.example.org", "type": "srv", "expect_rcode": "nxdomain"},
                    {"name": "example.org.", "type": "aaaa", "weight": 0},
                    {"name": "example.org", "type": "TYPE16"}],
        "protocol": "tcp", "timeout_s": 0.5,
    })
    assert [(q.type, q.expect_rcode) for q in opts.queries] == [
        ("SRV", "NXDOMAIN"), ("AAAA", "NOERROR"), ("TXT", "NOERROR")]
    assert opts.queries[1].name == "example.org."


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"queries": []}, "at least 1 item"),
        ({"queries": [{"name": "a.org", "weight": 0}]}, "at least one dns query weight"),
        ({"queries": [{"name": "a.org", "weight": -1}]}, "greater than or equal to 0"),
        ({"queries": [{"name": "a.org", "type": "BOGUS"}]}, "unknown DNS record type 'BOGUS'"),
        ({"queries": [{"name": "a.org", "type": "AXFR"}]}, "is not a plain query type"),
        ({"queries": [{"name": "a.org", "expect_rcode": "OK"}]}, "unknown DNS rcode 'OK'"),
        ({"queries": [{"name": "a..org"}]}, "query name 'a..org' is not a DNS name"),
        ({"queries": [{"name": "x" * 64 + ".org"}]}, "is not a DNS name"),
        ({"queries": [{"name": ""}]}, "non-empty DNS name without spaces"),
        ({"queries": [{"name": "a org"}]}, "non-empty DNS name without spaces"),
        ({"queries": [{"type": "A"}]}, "Field required"),
        ({"queries": [{"name": "a.org", "ttl": 3}]}, "Extra inputs are not permitted"),
        ({"protocol": "quic"}, "Input should be 'udp' or 'tcp'"),
        ({"timeout_s": 0}, "greater than 0"),
    ],
)
def test_invalid_options_say_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        DnsOptions.model_validate(fields)


def test_options_are_frozen() -> None:
    opts = DnsOptions()
    with pytest.raises(ValidationError, match="frozen"):
        opts.protocol = "tcp"


def test_dns_is_a_builtin_user_and_its_options_reach_the_users() -> None:
    assert parse_user_ref("dns") == ("builtin", "dns", "DnsUser") and "dns" in BUILTIN_USERS
    spec = LoadSpec.model_validate({"host": "dns://127.0.0.1:5353", "user": "dns",
                                    "dns": {"queries": [{"name": "a.org", "type": "TXT"}],
                                            "protocol": "tcp"}})
    options = UserOptions.model_validate_json(spec.user_options().model_dump_json())
    assert options.dns == spec.dns
    assert options.dns.protocol == "tcp" and options.dns.queries[0].type == "TXT"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("dns://127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("dns://10.0.0.10", ("10.0.0.10", 53)),
        ("http://127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("https://coredns.kube-system:9053/", ("coredns.kube-system", 9053)),
        ("dns://[::1]:53", ("::1", 53)),
    ],
)
def test_host_and_port_from_any_url(url: str, expected: tuple[str, int]) -> None:
    assert host_port(url) == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"host": "dns://"}, "no host in 'dns://'"),
        ({"host": "dns://h:70000"}, "bad port in 'dns://h:70000'"),
        ({"host": "udp://h:53"}, "host must be an http(s) or dns URL"),
        ({"host": "dns://h:53", "user": "configd"}, "user 'configd' speaks HTTP"),
    ],
)
def test_bad_dns_hosts(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        LoadSpec.model_validate(fields)


def test_dns_host_is_accepted_and_http_host_works_for_dns_too() -> None:
    assert LoadSpec(host="dns://127.0.0.1:53/", user="dns").host == "dns://127.0.0.1:53"
    assert LoadSpec(host="http://127.0.0.1:1053", user="dns").host == "http://127.0.0.1:1053"
