"""The OpenAPI document is valid OpenAPI 3.1; every parameter, member and tag says what it
is; every request body and main answer has an example the document's own schema accepts."""

from __future__ import annotations

from openapi_spec_validator import validate

from interface.http.openapi.examples import RESPONSE_EXAMPLES
from interface.http.operations import build_document
from tests.catalogue_check import validator_for


def test_every_parameter_is_described() -> None:
    undescribed = sorted(
        f"{method.upper()} {path} {parameter['in']}:{parameter['name']}"
        for path, methods in build_document()["paths"].items()
        for method, operation in methods.items()
        for parameter in operation.get("parameters", [])
        if not (parameter.get("description") or parameter["schema"].get("description"))
    )
    assert not undescribed, (
        "Describe these in interface/http/openapi/descriptions.py: " + ", ".join(undescribed)
    )


def test_every_tag_is_described() -> None:
    document = build_document()
    operations = [op for methods in document["paths"].values() for op in methods.values()]
    used = {tag for op in operations for tag in op["tags"]}
    described = {t["name"] for t in document["tags"] if t.get("description")}
    assert used <= described


def test_the_cursor_says_that_filters_are_repeated_with_it() -> None:
    parameters = build_document()["paths"]["/v1/queue"]["get"]["parameters"]
    cursor = next(p for p in parameters if p["name"] == "cursor")
    assert "same filters" in cursor["description"]


def test_every_json_request_body_has_an_example_its_schema_accepts() -> None:
    document = build_document()
    missing, invalid = [], []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            schema = content["application/json"]["schema"]
            name = schema["$ref"].rsplit("/", 1)[1]
            example = document["components"]["schemas"][name].get("example")
            if example is None:
                missing.append(f"{method.upper()} {path} ({name})")
                continue
            validator = validator_for(document["components"], schema)
            invalid += [f"{name}: {e.message}" for e in validator.iter_errors(example)]
    assert not missing, f"Give these an example (Meta.openapi): {missing}"
    assert not invalid, invalid


def test_every_member_of_every_schema_is_described() -> None:
    schemas = build_document()["components"]["schemas"]
    undescribed = sorted(
        f"{name}.{member}"
        for name, schema in schemas.items()
        for member, prop in schema.get("properties", {}).items()
        if not prop.get("description")
    )
    assert not undescribed, (
        "Describe these (a field's metadata, or interface/http/openapi/descriptions.py): "
        + ", ".join(undescribed[:30])
    )


def test_the_main_answers_have_examples_their_schemas_accept() -> None:
    document = build_document()
    schemas = document["components"]["schemas"]
    for name in RESPONSE_EXAMPLES:
        example = schemas[name]["example"]
        validator = validator_for(document["components"], {"$ref": f"#/components/schemas/{name}"})
        assert [e.message for e in validator.iter_errors(example)] == [], name


def test_the_document_is_valid_openapi_3_1() -> None:
    validate(build_document())  # raises, naming the first error
