"""Secrets and personal data (sync-rules.md, Safeguards): every output of a run is searched
for the client secret, every bearer token the fake issued, and the pupils' names."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select

from mis_sync.connectors.integris.fake import Fault, serve
from mis_sync.core.store.tables import metadata

from .support import SECRET, SMALL, cli, fake, write_config

FAULTS = [
    Fault(kind="status", status=429, retry_after=0, resource="students"),
    Fault(kind="expire_token", resource="contacts"),
    Fault(kind="status", status=503, resource="staff"),
]
NAMES = {s[k] for s in SMALL["students"] for k in ("KnownName", "LegalForename", "Surname") if s[k]}


def database_text(url: str) -> str:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [repr(r) for table in metadata.sorted_tables for r in conn.execute(select(table))]
    engine.dispose()
    return "\n".join(rows)


@pytest.mark.parametrize("ending", ["ok", "failed"])
def test_no_secret_token_or_pupil_name_in_any_output(tmp_path, db_url, monkeypatch, ending):
    monkeypatch.setattr("mis_sync.core.http.time.sleep", lambda seconds: None)
    faults = list(FAULTS)
    if ending == "failed":
        faults.append(Fault(kind="status", status=403, resource="groups"))
    server = fake(faults=faults)
    with serve(server) as base_url:
        config = str(write_config(tmp_path, db_url, base_url))
        outputs = [cli("-vv", "--config", config, "run", "integris", "--json")]
        outputs += [cli("-vv", "--config", config, "run", "integris")]
    outputs += [
        cli("--config", config, *cmd)
        for cmd in (
            ["runs", "--json"],
            ["runs"],
            ["changes", "--json"],
            ["changes"],
            ["explain", "students", "4821", "--json"],
            ["export", "contacts"],
        )
    ]
    assert outputs[0].exit_code == (0 if ending == "ok" else 1)
    assert "HTTP Request" in outputs[0].stderr  # the debug log really was on
    text = "\n".join(o.stdout + o.stderr for o in outputs) + database_text(db_url)
    assert len(server.issued_tokens) >= 3
    for secret in [SECRET, *server.issued_tokens]:
        assert secret not in text
    logs = "\n".join(o.stderr for o in outputs)
    for name in NAMES:
        assert name not in logs
