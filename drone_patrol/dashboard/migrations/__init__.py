"""Versioned schema migrations of the PostgreSQL city archive (``NNNN_name.sql``, applied in order)."""
