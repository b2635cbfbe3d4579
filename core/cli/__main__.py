"""`python -m mis_sync.core.cli`: the `mis-sync` console script's target."""

from . import main

main()
