"""The connector kit's standard tests, against the sample bundled with the connector."""

from mis_sync.connectors import oneroster
from mis_sync.core.testing import ConnectorConformance

from .support import cli


class TestConformance(ConnectorConformance):
    connector = oneroster
    options = {"connector": "oneroster", "path": str(oneroster.SAMPLE), "org": oneroster.SAMPLE_ORG}


def test_the_demo_syncs_the_sample_and_explains_what_it_leaves_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config: the demo database, and the listing commands read it
    monkeypatch.delenv("MIS_SYNC_CONFIG", raising=False)
    monkeypatch.delenv("MIS_SYNC_DEMO_DATABASE", raising=False)
    result = cli("run", "oneroster", "--demo")
    assert result.exit_code == 0, result.stderr
    assert "teachers: title is blank" in result.stdout
    explained = cli("explain", "classes", "n-art")
    assert explained.exit_code == 0, explained.stderr
    assert "because teacher t05 left out: title is blank" in explained.stdout
    assert "inserted 0, updated 0, deleted 0" in cli("run", "oneroster", "--demo").stdout
