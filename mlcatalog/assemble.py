"""Settings → the catalog's parts: the Atlas client (by URL), the Hive and S3 resolvers, the local catalog."""

from __future__ import annotations

from typing import Any

from catalog.atlas.client import AtlasCatalogClient
from catalog.atlas.connect import open_atlas
from catalog.crn import CrnScope
from catalog.embedded.store import EmbeddedStore
from catalog.errors import InvalidInput, UpstreamUnavailable
from catalog.service import LocalCatalog
from mlcatalog.settings import Settings
from serving.monitoring.sources import SampledTable, TableSampler


def atlas_client(settings: Settings, url: str, *, store: EmbeddedStore | None = None) -> AtlasCatalogClient:
    return open_atlas(url, user=settings.atlas.user, password=settings.atlas_client_password(url), store=store,
                      verify=settings.atlas_tls_verify())


def resolvers(settings: Settings) -> tuple[Any, Any]:
    """HiveServer2 and S3 resolvers when configured (None = "declared only")."""
    hive = s3 = None
    if settings.hive.host:
        from catalog.resolve.hive import HiveResolver

        hive = HiveResolver(hive_config(settings))
    if settings.s3.endpoint_url:
        from catalog.resolve.s3 import S3Config, S3Resolver

        s3 = S3Resolver(S3Config(
            endpoint_url=settings.s3.endpoint_url, access_key_id=settings.s3.access_key_id,
            secret_access_key=(settings.s3.secret_access_key.get_secret_value()
                               if settings.s3.secret_access_key else None),
            region=settings.s3.region))
    return hive, s3


def hive_config(settings: Settings) -> Any:
    from catalog.resolve.hive import HiveConfig

    assert settings.hive.host is not None
    return HiveConfig(host=settings.hive.host, port=settings.hive.port, username=settings.hive.username,
                      auth=settings.hive.auth,
                      password=settings.hive.password.get_secret_value() if settings.hive.password else None)


def table_sampler(settings: Settings) -> TableSampler | None:
    """Monitor references from Hive tables: a bounded random sample over HiveServer2 (None: none configured)."""
    if not settings.hive.host:
        return None
    config = hive_config(settings)

    def sample(qualified_name: str, limit: int) -> SampledTable:
        from catalog.resolve.errors import HiveUnavailable, ResolveError
        from catalog.resolve.hive_sample import sample_table

        try:
            t = sample_table(config, qualified_name, limit=limit)
        except HiveUnavailable as e:
            raise UpstreamUnavailable(f"reference table {qualified_name}: {e}") from None
        except ResolveError as e:
            raise InvalidInput(f"reference table {qualified_name}: {e}") from None
        return SampledTable(qualified_name=t.qualified_name, columns=list(t.columns), rows=list(t.rows),
                            total_rows=t.total_rows)

    return sample


def crn_scope(settings: Settings) -> CrnScope:
    return CrnScope(settings.crn.region, settings.crn.account, settings.crn.workspace)


def local_catalog(settings: Settings, url: str, *, store: EmbeddedStore | None = None,
                  with_resolvers: bool = True, tables: Any = None) -> LocalCatalog:
    """The catalog on the Atlas at ``url`` (``store``: this process's embedded store, for ``atlas+embedded:``).
    ``tables``: what describes Hive tables when no HiveServer2 is configured (the demo's)."""
    client = atlas_client(settings, url, store=store)
    hive, s3 = resolvers(settings) if with_resolvers else (None, None)
    if hive is None and tables is not None:
        hive = tables

    def close() -> None:
        for resolver in (hive, s3):
            if resolver is not None:
                resolver.close()

    return LocalCatalog(client, crn_scope(settings), settings.atlas.namespace, hive=hive, s3=s3, on_close=close,
                        atlas_ui_url=settings.atlas_ui_url())

