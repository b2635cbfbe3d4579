"""A worker process keeps one store (engine, checked schema) for all its tasks."""

from __future__ import annotations

from mis_sync.core import tasks


def test_tasks_of_one_process_share_one_store(monkeypatch, tmp_path):
    config = tmp_path / "mis-sync.toml"
    config.write_text(
        f'database = "sqlite:///{tmp_path / "t.db"}"\n[schools.oak]\nconnector = "integris"\n'
    )
    built, used = [], []

    def counting_store(url):
        built.append(url)
        return object()

    monkeypatch.setattr(tasks, "Store", counting_store)
    monkeypatch.setattr(tasks, "_stores", {})
    monkeypatch.setattr(tasks.pipeline, "prepare", lambda config, key: (None, None))
    monkeypatch.setattr(
        tasks.pipeline, "run_school", lambda store, *a, **k: used.append(store) or {}
    )
    for _ in range(3):
        assert tasks.sync_school.apply(args=(str(config), "oak")).state == "SUCCESS"
    assert len(built) == 1 and len(used) == 3 and used[0] is used[1] is used[2]
