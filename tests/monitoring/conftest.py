"""Fixtures of the monitoring tests: the metrics store on both backends (throwaway PostgreSQL databases included),
taken from tests/metrics/conftest.py. Imported rather than listed in ``pytest_plugins``, which pytest only allows in
the root conftest."""

from tests.metrics.conftest import backend, crns, open_store, pg_server, pg_url, store, store_url

__all__ = ["backend", "crns", "open_store", "pg_server", "pg_url", "store", "store_url"]
