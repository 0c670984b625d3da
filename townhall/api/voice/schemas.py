"""The voice surface's request bodies, as JSON Schemas checked the way the reference service's
validator (Ajv, first error only) checks them, so a bad body answers the same
``{ok: false, message: "Invalid JSON body", data: [{instancePath, schemaPath, keyword, params,
message}]}``.

Only the keywords these schemas use are implemented: type (object, array, string, boolean),
nullable, required, properties, items, enum, minLength, pattern, minItems, maxItems. Ajv's order
is kept: a type the keywords of its type group cannot check is checked first, then enum, then the
type's own keywords (strings: minLength, pattern; arrays: minItems, maxItems, items; objects:
required, properties).
"""

from __future__ import annotations

import re
from typing import Any

ADDRESS_PATTERN = "^0x[a-fA-F0-9]{40}$"
ACTIONS = ["create", "join", "request-to-speak", "promote-speaker", "demote-speaker", "kick-player"]
ROLES = ["owner", "moderator", "member", "none"]

Schema = dict[str, Any]

COMMUNITY_VOICE_CHAT: Schema = {
    "type": "object",
    "properties": {
        "community_id": {"type": "string", "minLength": 1},
        "user_address": {"type": "string", "pattern": ADDRESS_PATTERN},
        "action": {"type": "string", "enum": ACTIONS},
        "user_role": {"type": "string", "nullable": True, "enum": ROLES},
        "profile_data": {
            "type": "object",
            "nullable": True,
            "properties": {
                "name": {"type": "string", "nullable": True},
                "has_claimed_name": {"type": "boolean", "nullable": True},
                "profile_picture_url": {"type": "string", "nullable": True},
            },
            "required": [],
        },
    },
    "required": ["community_id", "user_address", "action"],
}

BULK_STATUS: Schema = {
    "type": "object",
    "properties": {"community_ids": {"type": "array", "items": {"type": "string", "minLength": 1}}},
    "required": ["community_ids"],
}

MUTE: Schema = {"type": "object", "properties": {"muted": {"type": "boolean"}}, "required": ["muted"]}

PRIVATE_VOICE_CHAT: Schema = {
    "type": "object",
    "properties": {
        "user_addresses": {"type": "array", "items": {"type": "string", "pattern": ADDRESS_PATTERN},
                           "minItems": 2, "maxItems": 2},
        "room_id": {"type": "string", "minLength": 1},
    },
    "required": ["user_addresses", "room_id"],
}

# Bodies the handlers read themselves (their own error messages): documented only.
END: Schema = {"type": "object", "properties": {"user_address": {"type": "string", "pattern": ADDRESS_PATTERN}},
               "required": ["user_address"]}
END_PRIVATE: Schema = {"type": "object", "properties": {"address": {"type": "string", "pattern": ADDRESS_PATTERN}},
                       "required": ["address"]}

# the keywords each type group checks (a type with none of them present is checked up front)
_GROUP = {"string": ("minLength", "pattern"), "array": ("minItems", "maxItems", "items"),
          "object": ("required", "properties")}


def _is(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    return False


def _pointer(path: str, key: str | int) -> str:
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _error(path: str, schema_path: str, keyword: str, params: dict[str, Any], message: str) -> dict[str, Any]:
    return {"instancePath": path, "schemaPath": f"{schema_path}/{keyword}", "keyword": keyword,
            "params": params, "message": message}


def first_error(schema: Schema, value: Any, path: str = "", schema_path: str = "#") -> dict[str, Any] | None:
    """The first way ``value`` breaks ``schema`` (an Ajv error object), or None."""
    kind = schema.get("type")
    nullable = schema.get("nullable", False)
    type_error = _error(path, schema_path, "type", {"type": kind}, f"must be {kind}")
    in_group = kind in _GROUP and any(k in schema for k in _GROUP[kind])
    if kind is not None and (nullable or not in_group):
        if not (_is(value, kind) or (nullable and value is None)):
            return type_error
    if "enum" in schema and value not in schema["enum"]:
        return _error(path, schema_path, "enum", {"allowedValues": schema["enum"]},
                      "must be equal to one of the allowed values")
    if not in_group or (nullable and value is None):
        return None
    if not _is(value, kind):
        return type_error
    if kind == "string":
        if "minLength" in schema and len(value) < schema["minLength"]:
            limit = schema["minLength"]
            return _error(path, schema_path, "minLength", {"limit": limit},
                          f"must NOT have fewer than {limit} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return _error(path, schema_path, "pattern", {"pattern": schema["pattern"]},
                          f'must match pattern "{schema["pattern"]}"')
    elif kind == "array":
        if "minItems" in schema and len(value) < schema["minItems"]:
            limit = schema["minItems"]
            return _error(path, schema_path, "minItems", {"limit": limit}, f"must NOT have fewer than {limit} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            limit = schema["maxItems"]
            return _error(path, schema_path, "maxItems", {"limit": limit}, f"must NOT have more than {limit} items")
        if "items" in schema:
            for i, item in enumerate(value):
                if found := first_error(schema["items"], item, _pointer(path, i), f"{schema_path}/items"):
                    return found
    elif kind == "object":
        for name in schema.get("required", []):
            if name not in value:
                return _error(path, schema_path, "required", {"missingProperty": name},
                              f"must have required property '{name}'")
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                if found := first_error(sub, value[name], _pointer(path, name), f"{schema_path}/properties/{name}"):
                    return found
    return None
