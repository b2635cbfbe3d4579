"""The conformance kit: standard tests any connector runs against itself with one class.

    from mis_sync.core.testing import ConnectorConformance

    class TestConformance(ConnectorConformance):
        connector = my_connector_module          # or its entry-point name
        options = {"connector": "mymis", ...}    # the school's config table
        cassette = "tests/cassettes/clean.yaml"  # optional: replay HTTP (record mode "none")
        cassette_dir = "tests/cassettes"         # optional: checked for secrets
        transport_factory = None                 # optional: () -> httpx transport (a fake)

It is also a pytest plugin (entry point `pytest11`), so connector packages get it by
installing mis-sync; that is why this module imports nothing heavy and does nothing at import.
Like Singer SDK's standard tests, but capped: the per-record checks look at `max_records`
records per entity, so the kit stays fast on a large sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest

KEY = "conformance"


class ConnectorConformance:
    connector: ClassVar[Any] = None
    options: ClassVar[dict] = {}
    transport_factory: ClassVar[Any] = None
    cassette: ClassVar[str | None] = None
    cassette_dir: ClassVar[str | None] = None
    max_records: ClassVar[int] = 200

    # -- plumbing ---------------------------------------------------------------------------

    def _manager(self):
        from mis_sync.core import plugins

        assert self.connector is not None, "set `connector` to the plugin module or its name"
        return plugins.manager(self.connector)  # registers, then check_pending()

    def _school(self, pm):
        from mis_sync.core.config import Config
        from mis_sync.core.pipeline import school_for

        return school_for(Config(schools={KEY: dict(self.options)}), KEY, pm)

    def _transport(self):
        return self.transport_factory() if self.transport_factory else None

    def _replay(self):
        """Replay only: with record mode "none" a request the cassette lacks fails the test."""
        if not self.cassette:
            from contextlib import nullcontext

            return nullcontext()
        from mis_sync.core import cassettes

        path = Path(self.cassette)
        assert path.is_file(), f"cassette {path} not found (record it first)"
        return cassettes.vcr(str(path.parent)).use_cassette(path.name)

    def _sync(self, store):
        from mis_sync.core import pipeline

        pm = self._manager()
        with self._replay():
            return pipeline.run_school(store, self._school(pm), pm, transport=self._transport())

    @pytest.fixture
    def fetched(self):
        pm = self._manager()
        school = self._school(pm)
        with self._replay():
            raw = pm.hook.mis_sync_fetch(
                school=school, transport=self._transport(), progress=lambda *a: None
            )
        return pm, school, raw

    @pytest.fixture
    def mapped(self, fetched):
        pm, school, raw = fetched
        assert raw is not None, "mis_sync_fetch returned nothing"
        dataset = pm.hook.mis_sync_map(school=school, raw=raw, source_state=None)
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

    def test_fetch_returns_data(self, fetched):
        assert fetched[2] is not None, "mis_sync_fetch returned nothing"

    def test_mapped_records_satisfy_the_canonical_schemas(self, mapped):
        from mis_sync.core.schema import ENTITIES, Dataset

        assert isinstance(mapped, Dataset), f"mis_sync_map returned a {type(mapped).__name__}"
        assert any(mapped.records.values()), "the sample maps to no record at all"
        for entity, records in mapped.records.items():
            cls = ENTITIES[entity]
            for record in list(records.values())[: self.max_records]:
                assert type(record) is cls, (
                    f"{entity}: {type(record).__name__} is not {cls.__name__}"
                )
                # Struct constructors do not check types; a round trip through convert does.
                try:
                    again = msgspec.convert(msgspec.to_builtins(record), cls)
                except msgspec.ValidationError as exc:
                    pytest.fail(f"{entity} {record.id}: {exc}", pytrace=False)
                assert again == record, f"{entity} {record.id}: does not round-trip its schema"

    def test_source_ids_are_present_and_unique(self, mapped):
        assert mapped.repeated_ids == [], f"IDs sent more than once: {mapped.repeated_ids[:5]}"
        for entity, records in mapped.records.items():
            for rid, record in list(records.items())[: self.max_records]:
                assert isinstance(rid, str) and rid.strip(), f"{entity}: a record has no ID"
                assert record.id == rid, f"{entity} {rid}: filed under another record's ID"

    def test_two_runs_over_the_same_data_change_nothing(self, tmp_path):
        from mis_sync.core.store import Store

        store = Store(f"sqlite:///{tmp_path / 'conformance.db'}")
        try:
            first = self._sync(store)
            assert first["status"] == "ok" and first["inserted"] > 0, first
            second = self._sync(store)
            changed = (second["inserted"], second["updated"], second["deleted"])
            assert changed == (0, 0, 0), f"the second run over the same data changed {changed}"
            assert store.changes(KEY) == [], "the second run recorded change events"
        finally:
            store.close()

    def test_no_cassette_holds_a_secret_or_token(self):
        from mis_sync.core import cassettes

        folder = self.cassette_dir or (str(Path(self.cassette).parent) if self.cassette else None)
        if folder is None:
            return  # a connector without HTTP has nothing to record
        # Every file, whatever its suffix: vcrpy can serialise to YAML or JSON.
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            found = cassettes.find_secrets(path.read_text(errors="replace"))
            assert found == [], f"{path}: holds what looks like a secret: {found}"
