"""`@operation`: one declaration per endpoint that parses the request, shapes the response and
describes both in the OpenAPI document (helpdesk.api.openapi reads it from the view function).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import Response, jsonify, request
from marshmallow import Schema, fields

from helpdesk.api.schemas import json_body, load


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    description: str = ""
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    response: type[Schema] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    content_type: str = "application/json"  # of the response; anything else is served as is


def operation(summary: str, *, tag: str, description: str = "",
              query: type[Schema] | None = None, body: type[Schema] | None = None,
              response: type[Schema] | None = None, status: int = 200,
              errors: tuple[int, ...] = (), content_type: str = "application/json") -> Callable:
    """Declare an API operation.

    The view receives `query=` (the checked query string) and/or `body=` (the checked JSON
    object) when those schemas are given, and returns either an object that `response` dumps
    (optionally as `(object, headers)`), or a ready Response.
    """
    spec = Operation(summary=summary, tag=tag, description=description, query=query, body=body,
                     response=response, status=status, errors=errors, content_type=content_type)

    # One instance per schema, made once: building a marshmallow schema copies all its fields
    # (nested ones too), which cost more than the dump itself. Schemas hold no request state.
    query_schema = query() if query is not None else None
    body_schema = body() if body is not None else None
    response_schema = response() if response is not None else None

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if query_schema is not None:
                kwargs["query"] = load(query_schema, request.args.to_dict())
            if body_schema is not None:
                kwargs["body"] = load(body_schema, json_body())
            result = view(*args, **kwargs)
            if isinstance(result, Response):
                return result
            headers: dict[str, str] = {}
            if isinstance(result, tuple):
                result, headers = result
            payload = response_schema.dump(result) if response_schema is not None else result
            return jsonify(payload), status, headers

        wrapper.api_operation = spec
        return wrapper

    return decorate


def page_of(item: type[Schema]) -> type[Schema]:
    """The list envelope: `{"data": [...], "next": "<cursor>" | null}`."""
    return Schema.from_dict(
        {
            "data": fields.List(fields.Nested(item), required=True),
            "next": fields.String(
                allow_none=True, required=True,
                metadata={"description": "Pass as `?cursor=` for the next page; null at the end."},
            ),
        },
        name=f"{item.__name__.removesuffix('Schema')}PageSchema",
    )
