"""Serves the OpenAPI 3.1 description of the API (web/api/openapi.json)."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from flask import Blueprint

bp = Blueprint("openapi", __name__)
SPEC_PATH = Path(__file__).with_name("openapi.json")


@cache
def spec() -> dict:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


@bp.get("/openapi.json")
def openapi():
    return spec()
