"""`mis-sync run integris` for every configured school: bounded concurrency, each school in
its own run, one failing school never stopping the others, exit code the worst of them."""

from __future__ import annotations

import gc
import json
from contextlib import ExitStack

from mis_sync.connectors.integris.fake import Fault, serve
from mis_sync.core.store import Store

from .support import cli, fake, options


def test_every_school_runs_and_one_failing_does_not_stop_the_others(tmp_path, db_url):
    servers = {
        "ash": fake(),
        "elm": fake(faults=[Fault(kind="status", status=403, resource="students")]),
        "oak": fake(),
        "yew": fake(),
    }
    with ExitStack() as stack:
        urls = {key: stack.enter_context(serve(server)) for key, server in servers.items()}
        lines = [f'database = "{db_url}"']
        for key, url in urls.items():
            lines.append(f"[schools.{key}]")
            lines += [f'{k} = "{v}"' for k, v in options(base_url=url).items()]
        config = tmp_path / "mis-sync.toml"
        config.write_text("\n".join(lines) + "\n")
        store = Store(db_url)
        assert gc.isenabled()
        with store.lock("yew"):  # another run holds this one
            result = cli("--config", str(config), "run", "integris", "--jobs", "2", "--json")
    # runs pause the cyclic collector; the process gets it back after failed and busy ones too
    assert gc.isenabled()
    assert result.exit_code == 4  # the worst: busy (4) beats source failure (1)
    outcome = {r["school"]: (r["status"], r["exit_code"]) for r in json.loads(result.stdout)}
    assert outcome == {
        "ash": ("ok", 0),
        "elm": ("failed", 1),
        "oak": ("ok", 0),
        "yew": ("failed", 4),
    }
    assert "'Basic information about a student'" in result.stderr
    assert "school 'yew': another run holds it" in result.stderr
    for key in ("ash", "oak"):
        assert len(store.export(key, "students", {})) == 2
    assert store.export("elm", "students", {}) == []
    assert [r["status"] for r in store.runs("elm")] == ["failed"]
