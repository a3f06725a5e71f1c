"""The staff dashboard: server-rendered pages with plain forms."""
