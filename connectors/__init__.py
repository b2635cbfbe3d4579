"""mis_sync.connectors: the connectors shipped with mis-sync, each found by entry point."""
