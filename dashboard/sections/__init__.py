"""Page bodies, one module per page of pages/: the tiles, tables and panels a page places (no queries: they
come from dashboard.data)."""
