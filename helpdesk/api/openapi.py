"""The OpenAPI 3 document, generated from the API's routes and their `@operation`s, and the
browsable docs (Swagger UI, vendored under static/vendor/swagger-ui, no CDN)."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, current_app, jsonify, render_template
from marshmallow import Schema, fields
from werkzeug.routing import Rule

from helpdesk.api import bp
from helpdesk.api.operations import Operation
from helpdesk.core.errors import CODES

RULE_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
CONVERTER_SCHEMAS = {
    "id": {"type": "integer", "minimum": 1},
    "int": {"type": "integer", "minimum": 0},
}
ERROR_TEXTS = {
    400: "Malformed JSON, or not a JSON object.",
    401: "Missing, invalid or revoked API token.",
    403: "Not allowed (role, plan, or a merged ticket).",
    404: "Not found (another organization's objects are not found either).",
    409: "Conflict: a duplicate, or a status change the workflow does not allow.",
    422: "Invalid fields; `fields` names each one.",
}


class ErrorDetailSchema(Schema):
    code = fields.String(metadata={"enum": sorted(set(CODES.values()))})
    message = fields.String()
    fields_ = fields.Dict(keys=fields.String(), values=fields.String(), data_key="fields",
                          metadata={"description": "Per-field messages (validation errors)."})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)


def _path(rule: Rule) -> tuple[str, list[dict]]:
    """`/tickets/<id:number>` as `/tickets/{number}` plus its path parameters."""
    parameters = [
        {"name": name, "in": "path", "required": True,
         "schema": CONVERTER_SCHEMAS.get(converter or "", {"type": "string"})}
        for converter, name in RULE_ARGUMENT.findall(rule.rule)
    ]
    return RULE_ARGUMENT.sub(r"{\2}", rule.rule), parameters


def _responses(op: Operation, *, has_path_parameters: bool, secured: bool) -> dict:
    if op.content_type == "application/json":
        content = {"application/json": {"schema": op.response}} if op.response else {}
    else:
        content = {op.content_type: {"schema": {"type": "string", "format": "binary"}}}
    responses: dict[str, Any] = {str(op.status): {"description": op.summary, "content": content}}
    errors = set(op.errors)
    errors |= {400, 422} if op.body else set()
    errors |= {422} if op.query else set()
    errors |= {401} if secured else set()
    errors |= {404} if has_path_parameters else set()
    for status in sorted(errors):
        responses[str(status)] = {
            "description": ERROR_TEXTS.get(status, CODES.get(status, "Error")),
            "content": {"application/json": {"schema": "Error"}},
        }
    return responses


def build_spec(app: Flask) -> dict:
    spec = APISpec(
        title="Helpdesk REST API",
        version="1.0.0",
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": "Send `Authorization: Bearer <token>`; the token decides the "
                             "organization. Lists are paginated with `?cursor=` and `next`."},
    )
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    paths: dict[str, dict[str, dict]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op: Operation | None = getattr(app.view_functions[rule.endpoint], "api_operation", None)
        if not rule.endpoint.startswith(f"{bp.name}.") or op is None:
            continue
        path, parameters = _path(rule)
        secured = getattr(app.view_functions[rule.endpoint], "requires_token", False)
        operation: dict[str, Any] = {
            "operationId": rule.endpoint.removeprefix(f"{bp.name}."),
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": parameters + ([{"in": "query", "schema": op.query}] if op.query else []),
            "responses": _responses(op, has_path_parameters=bool(parameters), secured=secured),
        }
        if op.description:
            operation["description"] = op.description
        if op.body:
            operation["requestBody"] = {
                "required": True, "content": {"application/json": {"schema": op.body}}}
        if secured:
            operation["security"] = [{"bearerAuth": []}]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi_json():
    """The document is public (it holds no tenant data) and built once per process."""
    app = current_app._get_current_object()
    if "api_openapi" not in app.extensions:
        app.extensions["api_openapi"] = build_spec(app)
    response = jsonify(app.extensions["api_openapi"])
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/docs")
def docs():
    return render_template("helpdesk/api/docs.html")
