"""The Integris connector passes the conformance kit, replaying its clean cassette."""

from pathlib import Path

import mis_sync.connectors.integris as integris
from mis_sync.core.cassettes import REPLAY_PORT
from mis_sync.core.testing import ConnectorConformance

from .support import options

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes" / "integris"


class TestIntegris(ConnectorConformance):
    connector = integris
    options = options(base_url=f"http://127.0.0.1:{REPLAY_PORT}/api", page_limit=50)
    cassette = str(CASSETTES / "clean.yaml")
    cassette_dir = str(CASSETTES)
