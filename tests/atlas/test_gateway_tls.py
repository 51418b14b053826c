"""An Atlas behind a gateway's path over HTTPS (as Knox serves one: ``https://gw/gateway/cdp-proxy-api/atlas``),
with Basic auth: the embedded Atlas mounted under that prefix, served by uvicorn with a certificate of a CA made
here (trustme). The catalog's client keeps the prefix on every call and checks the certificate against the CA
bundle of the settings; Atlas's official client drops the prefix's last segment unless its host ends in "/".
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
import uvicorn
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.exceptions import AtlasServiceException
from starlette.routing import Mount, Router

from catalog.atlas.client import AtlasCatalogClient
from catalog.atlas.errors import AtlasAuthError, AtlasUnavailable, InvalidAtlasUrl
from catalog.atlas.models import Classification, EntitySpec, ObjectRef, TypeDef
from catalog.embedded.app import standalone_app
from catalog.embedded.store import EmbeddedStore
from mlcatalog.assemble import atlas_client
from mlcatalog.settings import ConfigError, Settings, load_settings
from tests.conftest import ATLAS_PASSWORD
from tests.servers import free_port
from typedefs import load_bundled_typedefs

PREFIX = "/gateway/cdp-proxy-api/atlas"


@dataclass
class Gateway:
    url: str  # https://127.0.0.1:port/gateway/cdp-proxy-api/atlas
    ca_bundle: Path
    paths: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request that came


class Recorder:
    """The ASGI app in front: notes each request's method and path, then hands it on."""

    def __init__(self, app: Any, seen: list[tuple[str, str]]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("gateway")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_bundle, cert_file, key_file = tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"
    ca.cert_pem.write_to_path(str(ca_bundle))
    cert.private_key_pem.write_to_path(str(key_file))
    for i, blob in enumerate(cert.cert_chain_pems):
        blob.write_to_path(str(cert_file), append=i > 0)
    store = EmbeddedStore(tmp / "store", load_bundled_typedefs())
    port = free_port()
    gw = Gateway(f"https://127.0.0.1:{port}{PREFIX}", ca_bundle)
    app = Recorder(Router(routes=[Mount(PREFIX, app=standalone_app(store, password=ATLAS_PASSWORD))]), gw.paths)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical",
                                           ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the HTTPS server did not start"
            time.sleep(0.02)
        yield gw
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


def settings_for(gw: Gateway, tmp_path: Path, **env: str) -> Settings:
    return load_settings(environ={"MLCATALOG_ATLAS_URL": gw.url, "MLCATALOG_ATLAS_PASSWORD": ATLAS_PASSWORD, **env},
                         cwd=tmp_path)


def connect(gw: Gateway, tmp_path: Path, **env: str) -> AtlasCatalogClient:
    settings = settings_for(gw, tmp_path, **env)
    return atlas_client(settings, settings.atlas_url_client())


def test_every_call_keeps_the_gateway_prefix_over_tls_checked_with_the_ca_bundle(gateway: Gateway,
                                                                                  tmp_path: Path) -> None:
    uid = uuid.uuid4().hex[:8]
    start = len(gateway.paths)
    with connect(gateway, tmp_path, MLCATALOG_ATLAS_CA_BUNDLE=str(gateway.ca_bundle)) as c:
        c.ping()
        assert "hive_table" in c.get_typedefs() and set(c.get_typedefs(["hive_db", f"no_{uid}"])) == {"hive_db"}
        tag = TypeDef(category="CLASSIFICATION", name=f"GW_{uid}")
        c.create_typedefs([tag])
        c.update_typedefs([tag.model_copy(update={"description": "through the gateway"})])
        guids = c.upsert([
            EntitySpec(type_name="hive_db", qualified_name=f"g{uid}@cm", guid="-1",
                       attributes={"name": f"g{uid}", "clusterName": "cm"}),
            EntitySpec(type_name="hive_table", qualified_name=f"g{uid}.t@cm", guid="-2", attributes={"name": "t"},
                       relationships={"db": ObjectRef(guid="-1", type_name="hive_db")}),
        ]).guid_assignments
        table = guids["-2"]
        c.partial_update("hive_table", f"g{uid}.t@cm", {"description": "kept"})
        assert c.get_entity(table).attributes["description"] == "kept"
        found = c.find_entity("hive_table", f"g{uid}.t@cm")
        assert found is not None and found.guid == table
        assert list(c.find_by_qualified_names("hive_table", [f"g{uid}.t@cm"])) == [f"g{uid}.t@cm"]
        assert list(c.find_by_prefix("hive_db", f"g{uid}")) == [f"g{uid}@cm"]
        c.add_classification(table, Classification(type_name=tag.name))
        assert [x.type_name for x in c.classifications(table)] == [tag.name]
        assert c.remove_classification(table, tag.name) is True
        assert c.lineage(table).base_guid == table
        c.delete(table)
        assert c.get_entity(table).status == "DELETED"
    asked = gateway.paths[start:]
    assert len(asked) >= 17 and all(p.startswith(PREFIX + "/api/atlas/") for _, p in asked), asked
    assert {m for m, _ in asked} == {"GET", "POST", "PUT", "DELETE"}


def test_without_the_ca_bundle_the_certificate_is_refused_in_one_line_naming_the_setting(
        gateway: Gateway, tmp_path: Path) -> None:
    with connect(gateway, tmp_path) as c, pytest.raises(AtlasUnavailable) as e:
        c.ping()
    message = str(e.value)
    assert "certificate verify failed" in message and "MLCATALOG_ATLAS_CA_BUNDLE" in message
    assert gateway.url in message and "\n" not in message


def test_verification_off_works_and_says_so_loudly(gateway: Gateway, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="catalog.atlas.connect"), \
            connect(gateway, tmp_path, MLCATALOG_ATLAS_VERIFY_TLS="false") as c:
        c.ping()
    (record,) = [r for r in caplog.records if r.name == "catalog.atlas.connect"]
    assert record.levelno == logging.WARNING
    assert "VERIFICATION IS OFF" in record.getMessage() and gateway.url in record.getMessage()


def test_basic_auth_is_what_the_gateway_checks(gateway: Gateway, tmp_path: Path) -> None:
    with connect(gateway, tmp_path, MLCATALOG_ATLAS_CA_BUNDLE=str(gateway.ca_bundle),
                 MLCATALOG_ATLAS_PASSWORD="wrong") as c, pytest.raises(AtlasAuthError) as e:
        c.ping()
    assert e.value.status == 401


@pytest.mark.parametrize(("content", "why"), [(None, "No such file"), ("not a certificate\n", "no certificate")],
                         ids=["missing", "not-pem"])
def test_an_unusable_ca_bundle_is_refused_when_the_client_is_made(gateway: Gateway, tmp_path: Path,
                                                                  content: str | None, why: str) -> None:
    bundle = tmp_path / "ca.pem"
    if content is not None:
        bundle.write_text(content)
    with pytest.raises(InvalidAtlasUrl) as e:
        connect(gateway, tmp_path, MLCATALOG_ATLAS_CA_BUNDLE=str(bundle))
    message = str(e.value)
    assert str(bundle) in message and "MLCATALOG_ATLAS_CA_BUNDLE" in message and why.lower() in message.lower()


def test_tls_settings_precedence_paths_and_contradiction(tmp_path: Path) -> None:
    assert load_settings(environ={}, cwd=tmp_path).atlas_tls_verify() is True
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "mlcatalog.toml"
    config.write_text('[atlas]\nca_bundle = "certs/ca.pem"\n')
    from_file = load_settings(environ={"MLCATALOG_CONFIG": str(config)}, cwd=tmp_path)
    assert from_file.atlas_tls_verify() == tmp_path / "conf" / "certs" / "ca.pem"  # the file's directory
    from_env = load_settings(environ={"MLCATALOG_CONFIG": str(config), "MLCATALOG_ATLAS_CA_BUNDLE": "env.pem"},
                             cwd=tmp_path)
    assert from_env.atlas_tls_verify() == tmp_path / "env.pem"  # the working directory
    from_flag = load_settings({"atlas.ca_bundle": "/etc/flag.pem"},
                              environ={"MLCATALOG_ATLAS_CA_BUNDLE": "env.pem"}, cwd=tmp_path)
    assert from_flag.atlas_tls_verify() == Path("/etc/flag.pem")
    assert load_settings(environ={"MLCATALOG_ATLAS_VERIFY_TLS": "false"}, cwd=tmp_path).atlas_tls_verify() is False
    with pytest.raises(ConfigError, match="ca_bundle is set and verify_tls is false"):
        load_settings(environ={"MLCATALOG_ATLAS_CA_BUNDLE": "ca.pem", "MLCATALOG_ATLAS_VERIFY_TLS": "0"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"atlas\.verify_tls"):
        load_settings(environ={"MLCATALOG_ATLAS_VERIFY_TLS": "maybe"}, cwd=tmp_path)


def test_the_official_client_drops_the_prefix_unless_its_host_ends_in_a_slash(gateway: Gateway) -> None:
    """Its ``urljoin(host.rstrip('/'), 'api/atlas/...')`` replaces the prefix's last segment ("atlas"): the call goes
    to /gateway/cdp-proxy-api/api/atlas/..., which the gateway does not serve. A host ending in "/", set after the
    client is made (it strips one given to it), keeps the prefix. Its CA bundle goes with each request
    (``request_params``): requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, when set, win over ``session.verify``."""
    official = AtlasClient(gateway.url, ("admin", ATLAS_PASSWORD))
    official.request_params["verify"] = str(gateway.ca_bundle)
    start = len(gateway.paths)
    with pytest.raises(AtlasServiceException):
        official.typedef.get_entitydef_by_name("hive_table")
    assert gateway.paths[start:] == [("GET", "/gateway/cdp-proxy-api/api/atlas/v2/types/entitydef/name/hive_table")]
    official.host = gateway.url + "/"
    assert official.typedef.get_entitydef_by_name("hive_table").name == "hive_table"
    assert gateway.paths[-1] == ("GET", PREFIX + "/api/atlas/v2/types/entitydef/name/hive_table")
    official.session.close()
