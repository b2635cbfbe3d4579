"""mis_sync.core: the framework; it knows no MIS."""
