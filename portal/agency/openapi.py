"""The OpenAPI 3.1 document of the agency callback API (served at ``/api/agency/v1/openapi.json``); the test
suite fuzzes the API with it (schemathesis, with a real token): whatever is sent, never a 5xx."""

from __future__ import annotations

from typing import Any

from portal.agency import cap, service
from portal.agency.api import MAX_REQUEST_ID
from portal.bounds import INT32_MAX

TIME = {"type": ["string", "null"], "format": "date-time"}
DISPATCH: dict[str, Any] = {
    "type": "object",
    "required": ["id", "cap_identifier", "status", "allowed_next"],
    "properties": {
        "id": {"type": "integer"},
        "cap_identifier": {"type": "string", "description": "Identifier of the dispatch's CAP 1.2 Alert."},
        "status": {"type": "string", "enum": list(service.TRANSITIONS)},
        "allowed_next": {"type": "array", "items": {"type": "string"}},
        "note": {"type": "string"},
        "created_at": TIME, "acknowledged_at": TIME, "closed_at": TIME, "sla_due_at": TIME,
        "report": {"type": "object", "description": "Category, description, place, priority, status, photo URLs "
                                                    "(never the reporter's name or phone)."},
        "events": {"type": "array", "items": {"type": "object"}},
    },
}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"},
                                                                "detail": {"type": "string"}}}
ID = {"name": "dispatch_id", "in": "path", "required": True,
      "schema": {"type": "integer", "minimum": 0, "maximum": INT32_MAX}}


def _answers(*codes: int, ok: dict[str, Any] | None = None) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    if ok is not None:
        answers["200"] = {"description": "OK", "content": {"application/json": {"schema": ok}}}
    for code in codes:
        answers[str(code)] = {"description": "Refused", "content": {"application/json": {"schema": ERROR}}}
    return answers


def document() -> dict[str, Any]:
    listing = {"type": "object", "required": ["dispatches"],
               "properties": {"dispatches": {"type": "array", "items": DISPATCH}}}
    one = {"type": "object", "required": ["dispatch"], "properties": {"dispatch": DISPATCH}}
    change = {
        "type": "object", "required": ["status"], "additionalProperties": False,
        "properties": {
            "status": {"type": "string", "enum": [*service.AGENCY_STATUSES, "handed_back"]},
            "reason": {"type": "string", "maxLength": service.MAX_REASON,
                       "description": "Required to hand a dispatch back."},
            "request_id": {"type": "string", "minLength": 1, "maxLength": MAX_REQUEST_ID,
                           "description": "The client's own id: a retry with it gets the first answer again "
                                          "(or send the Idempotency-Key header)."},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Pantau agency callback API", "version": "1",
                 "description": "Agencies' own systems acknowledge and follow up their dispatches "
                                "(docs/agency-api.md)."},
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
        "paths": {
            "/api/agency/v1/dispatches": {"get": {
                "operationId": "listDispatches", "summary": "This agency's open dispatches",
                "parameters": [{"name": "semua", "in": "query", "schema": {"type": "string", "maxLength": 8},
                                "description": "1: the latest ones, closed too"}],
                "responses": _answers(400, 401, 429, ok=listing)}},
            "/api/agency/v1/dispatches/{dispatch_id}": {"get": {
                "operationId": "getDispatch", "summary": "One dispatch with its report and timeline",
                "parameters": [ID], "responses": _answers(401, 404, 429, ok=one)}},
            "/api/agency/v1/dispatches/{dispatch_id}/status": {"post": {
                "operationId": "changeStatus", "summary": "Acknowledge, en route, on scene, done, or hand back",
                "parameters": [ID, {"name": "Idempotency-Key", "in": "header", "required": False,
                                    "schema": {"type": "string", "maxLength": MAX_REQUEST_ID}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": change}}},
                "responses": _answers(400, 401, 404, 409, 413, 422, 429, ok=one)}},
            "/api/agency/v1/cap": {"post": {
                "operationId": "capAck", "summary": "A CAP 1.2 Ack referencing dispatch alerts",
                "requestBody": {"required": True, "content": {"application/cap+xml": {
                    "schema": {"type": "string", "maxLength": cap.MAX_BYTES}}}},
                "responses": _answers(400, 401, 404, 413, 429, ok={
                    "type": "object", "properties": {"acknowledged": {"type": "array"},
                                                     "unchanged": {"type": "array"}}})}},
        },
    }
