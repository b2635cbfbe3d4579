"""Core's per-school options reach the rules in a real run: from the config file, through
`mis-sync run`, to what is stored and explained (sync-rules.md, Options)."""

from __future__ import annotations

import json

import pytest

from mis_sync.connectors.integris.fake import serve

from .support import cli, fake, write_config


def run(tmp_path, db_url, **options):
    with serve(fake()) as base_url:
        config = str(write_config(tmp_path, db_url, base_url, **options))
        result = cli("--config", config, "run", "integris", "--json")
    assert result.exit_code == 0, result.stderr
    return config, json.loads(result.stdout)


def links(config) -> list[str]:
    exported = json.loads(cli("--config", config, "export", "contact-links", "--json").stdout)
    return [f"{lk['student_id']}:{lk['contact_id']}" for lk in exported]


@pytest.mark.parametrize("written", [True, False, None], ids=["on", "off", "unset"])
def test_parental_responsibility_only_from_the_config_file_decides_the_links(
    tmp_path, db_url, written
):
    options = {} if written is None else {"parental_responsibility_only": written}
    config, summary = run(tmp_path, db_url, **options)
    # 4821 -> 9001 (a combined contact, split in two) has ParentalResponsibility true;
    # 4822 -> 9002 has it null, which is not true.
    if written:
        assert links(config) == ["4821:9001-1", "4821:9001-2"]
        explained = json.loads(
            cli("--config", config, "explain", "contact-links", "4822:9002", "--json").stdout
        )
        assert explained["reasons"] == [
            "no parental responsibility",
            "parental_responsibility_only is on",
        ]
        assert summary["left_out_by_reason"] == {
            "contact-links: no parental responsibility": 1,
            "contacts: no kept link": 1,
        }
    else:
        assert links(config) == ["4821:9001-1", "4821:9001-2", "4822:9002"]
        assert summary["left_out"] == 0
