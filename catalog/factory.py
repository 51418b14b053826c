"""Composition root for the catalog: settings → typed Atlas client, resolvers, Catalog and queries."""

from __future__ import annotations

from typing import Any

from catalog.atlas.client import AtlasCatalogClient
from catalog.config import Settings
from catalog.queries import CatalogQueries
from catalog.sync.engine import Catalog, CrnScope


def make_client(settings: Settings, url: str | None = None, password: str | None = None) -> AtlasCatalogClient:
    return AtlasCatalogClient(url or settings.atlas.url, settings.atlas.user,
                              password if password is not None else settings.atlas.client_password())


def make_resolvers(settings: Settings) -> tuple[Any, Any]:
    """HiveServer2 and S3 resolvers when configured (None = "declared only")."""
    hive = s3 = None
    if settings.hive.host:
        from catalog.resolve.hive import HiveConfig, HiveResolver

        hive = HiveResolver(HiveConfig(
            host=settings.hive.host, port=settings.hive.port, username=settings.hive.username,
            auth=settings.hive.auth,
            password=settings.hive.password.get_secret_value() if settings.hive.password else None))
    if settings.s3.endpoint_url:
        from catalog.resolve.s3 import S3Config, S3Resolver

        s3 = S3Resolver(S3Config(
            endpoint_url=settings.s3.endpoint_url, access_key_id=settings.s3.access_key_id,
            secret_access_key=(settings.s3.secret_access_key.get_secret_value()
                               if settings.s3.secret_access_key else None),
            region=settings.s3.region))
    return hive, s3


def make_catalog(settings: Settings, client: AtlasCatalogClient, *, resolvers: bool = True) -> Catalog:
    hive, s3 = make_resolvers(settings) if resolvers else (None, None)
    scope = CrnScope(settings.crn.region, settings.crn.account, settings.crn.workspace)
    return Catalog(client, scope, settings.atlas.namespace, hive=hive, s3=s3)


def make_queries(client: AtlasCatalogClient) -> CatalogQueries:
    return CatalogQueries(client)
