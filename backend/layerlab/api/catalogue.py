"""GET /api/catalogue: layers, data sets, training choices, presets, labs and limits (schemas + en/ja help)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

router = APIRouter(tags=["catalogue"])


@router.get(
    "/api/catalogue",
    summary="Everything the UI and scripts may put in a job spec",
    responses={200: {"content": {"application/json": {}}, "description": "the catalogue document"}},
)
def get_catalogue(request: Request) -> Response:
    body, etag = request.app.state.catalogue
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)
