"""The template passes the conformance kit, as every connector scaffolded from it will."""

from pathlib import Path

import mis_sync.connectors._template as template
from mis_sync.core.testing import ConnectorConformance


class TestTemplate(ConnectorConformance):
    connector = template
    options = {"connector": "template", "path": str(Path(template.__file__).parent / "sample")}
    cassette_dir = str(Path(template.__file__).parent / "tests" / "cassettes")
