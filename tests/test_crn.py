"""CRNs: Cloudera's forms parse and format back unchanged; CML's dev and bare ``/<id>`` forms; clear rejections."""

from __future__ import annotations

import uuid

import pytest

from catalog.crn import (
    Crn,
    CrnError,
    bare_id,
    derived_id,
    dev_crn,
    is_crn,
    is_crn_ref,
    ml_crn,
    parse_crn,
    resolve_ref,
)

ACCOUNT = "12a0079b-1591-4ca0-b721-a446bda74e67"
WORKSPACE = "ec3efe6f-c4f5-4593-857b-a80698e4857e"
OBJECT = "d5c3fbbe-d604-4f3b-b98a-227ecbd741b4"
CML_MODEL = f"crn:cdp:ml:us-west-1:{ACCOUNT}:workspace:{WORKSPACE}/{OBJECT}"

# Forms seen in Cloudera's code and docs (reference: cml-mlops-and-peers.md section 5).
CLOUDERA_FORMS = [
    CML_MODEL,
    "crn:cdp:environments:us-west-1:f39af961-e0ce-4f79-826c-45502efb9ca3:environment:"
    "ff186d14-1cfc-461f-a111-466857dd276e",
    "crn:altus:iam:us-west-1:altus:resourceRole:DataHubAdmin",
    f"crn:cdp:ml:us-west-1:{ACCOUNT}:workspace:{WORKSPACE}",
    f"crn:cdp:ml:us-west-1:{ACCOUNT}:mlserving:{OBJECT}",
    f"crn:cdp:iam:us-west-1:{ACCOUNT}:user:0/{OBJECT}",  # user CRNs: "type/id" resources
    "crn:cdp:ml:::workspace:dev/model",
    "crn:cdp:ml:::workspace:dev/model-build",
    "crn:cdp:ml:::workspace:dev/model-deployment",
]


@pytest.mark.parametrize("text", CLOUDERA_FORMS)
def test_cloudera_forms_round_trip(text: str) -> None:
    crn = parse_crn(text)
    assert str(crn) == text
    assert is_crn(text) and is_crn_ref(text)
    assert parse_crn(f"  {text}\n") == crn


def test_cml_model_crn_fields() -> None:
    crn = parse_crn(CML_MODEL)
    assert (crn.partition, crn.service, crn.region, crn.account, crn.resource_type) == (
        "cdp", "ml", "us-west-1", ACCOUNT, "workspace")
    assert crn.workspace == WORKSPACE and crn.object_id == OBJECT and not crn.is_dev


def test_workspace_and_object_id_of_other_resource_types() -> None:
    role = parse_crn("crn:altus:iam:us-west-1:altus:resourceRole:DataHubAdmin")
    assert role.workspace is None and role.object_id is None and not role.is_dev
    ws = parse_crn(f"crn:cdp:ml:us-west-1:{ACCOUNT}:workspace:{WORKSPACE}")
    assert ws.workspace == WORKSPACE and ws.object_id is None


def test_dev_crns() -> None:
    for kind in ("model", "model-build", "model-deployment"):
        crn = dev_crn(kind)
        assert str(crn) == f"crn:cdp:ml:::workspace:dev/{kind}"
        assert crn.is_dev and crn.region == "" and crn.account == "" and crn.object_id == kind
    with pytest.raises(CrnError, match="unknown dev CRN kind"):
        dev_crn("project")
    # A workspace named "dev" in a real region and account is not dev mode.
    assert not parse_crn(f"crn:cdp:ml:us-west-1:{ACCOUNT}:workspace:dev/model").is_dev


def test_ml_crn_formats_cmls_model_build_and_deployment_form() -> None:
    crn = ml_crn("us-west-1", ACCOUNT, WORKSPACE, uuid.UUID(OBJECT))
    assert str(crn) == CML_MODEL
    assert parse_crn(str(crn)) == crn
    assert isinstance(crn, Crn)


def test_derived_ids_are_stable_and_distinct() -> None:
    a = derived_id("/projects/wine", "Predict", "abc123")
    assert a == derived_id("/projects/wine", "Predict", "abc123")
    assert a.version == 5
    assert a != derived_id("/projects/wine", "Predict", "abc124")
    # Parts are joined with a separator that cannot be confused with their content.
    assert derived_id("a", "bc") != derived_id("ab", "c")


@pytest.mark.parametrize("text", [
    "", "crn", "crn:cdp:ml", "crn:cdp:ml:us-west-1:acct:workspace", "crn:cdp:ml:us-west-1:acct:workspace:",
    "urn:cdp:ml:us-west-1:acct:workspace:ws/1", "crn:CDP:ml:us-west-1:acct:workspace:ws/1",
    "crn:cdp:ml:us west:acct:workspace:ws/1", "crn:cdp:ml:us-west-1:acct:workspace:ws/1 extra",
    "crn:cdp:ml:us-west-1:acct:work-space:ws/1", "/db401b6a-4b26-4c8f-8ea6-a1b09b93db88",
])
def test_malformed_crns_are_refused_with_the_expected_shape(text: str) -> None:
    assert not is_crn(text)
    with pytest.raises(CrnError, match=r"not a CRN: .*expected crn:<partition>:<service>"):
        parse_crn(text)


def test_a_non_string_is_not_a_crn() -> None:
    with pytest.raises(CrnError):
        parse_crn(42)  # type: ignore[arg-type]
    assert not is_crn_ref(None)  # type: ignore[arg-type]


def test_bare_form() -> None:
    assert bare_id("/db401b6a-4b26-4c8f-8ea6-a1b09b93db88") == "db401b6a-4b26-4c8f-8ea6-a1b09b93db88"
    assert bare_id(" /model-deployment ") == "model-deployment"
    for text in ("", "/", "//x", "/a/b", "db401b6a", "/ x", CML_MODEL):
        assert bare_id(text) is None, text
    assert is_crn_ref("/db401b6a") and not is_crn_ref("/a/b") and not is_crn_ref("nope")


def test_resolve_ref() -> None:
    other = f"crn:cdp:ml:us-west-1:{ACCOUNT}:workspace:{WORKSPACE}/0b0b0b0b-0000-4000-8000-000000000000"
    known = [other, CML_MODEL, "not a crn", CML_MODEL]
    assert resolve_ref(f"/{OBJECT}", known) == CML_MODEL
    assert resolve_ref("/ffffffff-0000-4000-8000-000000000000", known) is None
    assert resolve_ref(f"/{OBJECT}", []) is None
    # A full CRN names itself, known or not.
    assert resolve_ref(f" {other} ", []) == other
    with pytest.raises(CrnError, match="not a CRN"):
        resolve_ref("nope", known)
    twin = f"crn:cdp:ml:us-west-1:{ACCOUNT}:workspace:another-ws/{OBJECT}"
    with pytest.raises(CrnError, match=r"ambiguous.*give the full CRN"):
        resolve_ref(f"/{OBJECT}", [CML_MODEL, twin])
    assert resolve_ref("/model-deployment", [str(dev_crn("model-deployment"))]) == str(dev_crn("model-deployment"))
