"""The JSON Schema (draft-07) of process files, generated from the pydantic models, for editor completion."""

from __future__ import annotations

from typing import Any

from procsim.spec.models import ProcessSpec

DRAFT7 = "http://json-schema.org/draft-07/schema#"


def _draft7(node: Any) -> Any:
    """pydantic emits 2020-12; rewrite the few constructs draft-07 spells differently."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$defs":
                out["definitions"] = _draft7(v)
            elif k == "$ref" and isinstance(v, str):
                out[k] = v.replace("#/$defs/", "#/definitions/")
            elif k == "prefixItems":
                out["items"] = _draft7(v)
                out["additionalItems"] = False
            else:
                out[k] = _draft7(v)
        if "prefixItems" in node and "items" in node and node["items"] is False:
            out["items"] = _draft7(node["prefixItems"])
        return out
    if isinstance(node, list):
        return [_draft7(v) for v in node]
    return node


def process_json_schema() -> dict[str, Any]:
    schema = _draft7(ProcessSpec.model_json_schema(mode="validation"))
    return {"$schema": DRAFT7, "$id": "https://procsim.dev/schema/process.json",
            "title": "procsim process", **{k: v for k, v in schema.items() if k != "title"}}
