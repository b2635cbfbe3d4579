"""The conformance kit: standard tests any connector runs against itself with one class.

    from mis_sync.core.testing import ConnectorConformance

    class TestConformance(ConnectorConformance):
        connector = my_connector_module          # or its entry-point name
        options = {"connector": "mymis", ...}    # the school's config table
        cassette = "tests/cassettes/clean.yaml"  # optional: replay HTTP (record mode "none")
        cassette_dir = "tests/cassettes"         # optional: checked for secrets

It is also a pytest plugin (entry point `pytest11`), so connector packages get it by
installing mis-sync. Like Singer SDK's standard tests, but capped: schema checks look at
`max_records` records per entity, so the kit stays fast on a large sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

KEY = "conformance"


class ConnectorConformance:
    connector: Any = None
    options: dict = {}
    transport: Any = None  # a callable returning an httpx transport (a fake of the MIS)
    cassette: str | None = None
    cassette_dir: str | None = None
    max_records = 200

    # -- plumbing ---------------------------------------------------------------------------

    def _manager(self):
        from mis_sync.core import plugins

        return plugins.manager(self.connector)  # registers, then check_pending()

    def _school(self, pm):
        from mis_sync.core.config import Config
        from mis_sync.core.pipeline import school_for

        return school_for(Config(schools={KEY: dict(self.options)}), KEY, pm)

    def _replay(self):
        if not self.cassette:
            from contextlib import nullcontext

            return nullcontext()
        from mis_sync.core import cassettes

        path = Path(self.cassette)
        return cassettes.vcr(str(path.parent)).use_cassette(path.name)

    def _sync(self, store):
        from mis_sync.core import pipeline

        pm = self._manager()
        with self._replay():
            return pipeline.run_school(
                store, self._school(pm), pm, transport=self.transport() if self.transport else None
            )

    @pytest.fixture
    def mapped(self):
        pm = self._manager()
        school = self._school(pm)
        with self._replay():
            raw = pm.hook.mis_sync_fetch(
                school=school,
                transport=self.transport() if self.transport else None,
                progress=lambda *a: None,
            )
        assert raw is not None, "mis_sync_fetch returned nothing"
        dataset = pm.hook.mis_sync_map(school=school, raw=raw)
        assert dataset is not None, "mis_sync_map returned nothing"
        return dataset

    # -- the standard tests -----------------------------------------------------------------

    def test_hooks_match_their_specs(self):
        pm = self._manager()
        plugin = pm.get_plugin("connector") or next(
            p for name, p in pm.list_name_plugin() if name.startswith("connector:")
        )
        implemented = {impl.name for impl in pm.get_hookcallers(plugin) or []}
        assert {"mis_sync_fetch", "mis_sync_map"} <= implemented, implemented

    def test_mapped_records_satisfy_the_canonical_schemas(self, mapped):
        from mis_sync.core.schema import ENTITIES

        assert any(mapped.records.values()), "the sample maps to no record at all"
        for entity, records in mapped.records.items():
            cls = ENTITIES[entity]
            for record in list(records.values())[: self.max_records]:
                assert type(record) is cls, (
                    f"{entity}: {type(record).__name__} is not {cls.__name__}"
                )
                again = msgspec.convert(msgspec.to_builtins(record), cls)
                assert again == record, f"{entity} {record.id}: does not round-trip its schema"

    def test_source_ids_are_present_and_unique(self, mapped):
        assert mapped.repeated_ids == [], f"IDs sent more than once: {mapped.repeated_ids[:5]}"
        for entity, records in mapped.records.items():
            for rid in list(records)[: self.max_records]:
                assert isinstance(rid, str) and rid.strip(), f"{entity}: a record has no ID"

    def test_two_runs_over_the_same_data_change_nothing(self, tmp_path):
        from mis_sync.core.store import Store

        store = Store(f"sqlite:///{tmp_path / 'conformance.db'}")
        try:
            first = self._sync(store)
            assert first["status"] == "ok" and first["inserted"] > 0
            second = self._sync(store)
            assert (second["inserted"], second["updated"], second["deleted"]) == (0, 0, 0)
            assert store.changes(KEY) == []
        finally:
            store.close()

    def test_no_cassette_holds_a_secret_or_token(self):
        from mis_sync.core import cassettes

        folder = self.cassette_dir or (str(Path(self.cassette).parent) if self.cassette else None)
        if folder is None:
            return  # a connector without HTTP has nothing to record
        for path in cassettes.cassette_files(folder):
            found = cassettes.find_secrets(Path(path).read_text())
            assert found == [], f"{path}: holds what looks like a secret: {found}"
