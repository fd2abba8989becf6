"""The Data API: every collected table, read over HTTP with a key (see README)."""
