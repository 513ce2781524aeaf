"""GET /api/jobs/{id}/artifacts/{name}: spec.json, weights.safetensors, model.onnx, model.py.

The name is checked against the fixed table in jobs/artifacts.py (anything else: 404) and the path is
built from the stored job id and that table's own entry, never from request text.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from ..jobs.artifacts import ARTIFACTS
from ..jobs.service import JobNotFound
from .errors import ApiError, ErrorBody
from .jobs import CurrentUser, Service  # CurrentUser: the one current_user dependency

router = APIRouter(tags=["jobs"])

DESCRIPTIONS = {
    "spec.json": "the normalised job spec",
    "weights.safetensors": "trained weights (state_dict keys layers.<node id>.<param>); after the run",
    "model.onnx": "the trained model for onnxruntime (inputs named after the data-set fields); after the run",
    "model.py": "standalone PyTorch code of the model; load weights.safetensors into Model()",
}


@router.get(
    "/api/jobs/{job_id}/artifacts/{name}",
    summary="Download an artifact: " + ", ".join(ARTIFACTS),
    response_class=FileResponse,
    responses={
        200: {"content": {t: {} for t in set(ARTIFACTS.values())}, "description": "the file"},
        404: {"model": ErrorBody, "description": "no such job, artifact name, or not (yet) produced"},
    },
)
async def get_artifact(job_id: str, name: str, service: Service, user: CurrentUser) -> FileResponse:
    entry = next(((n, media) for n, media in ARTIFACTS.items() if n == name), None)
    if entry is None:
        raise ApiError(404, "not_found", f"no artifact {name[:64]!r}; available: {', '.join(ARTIFACTS)}")
    filename, media_type = entry
    try:
        record = service.get(user.sees, job_id).record
    except JobNotFound:
        raise ApiError(404, "not_found", f"no job {job_id[:64]!r}") from None
    path = service.artifact_dir(record.id) / filename
    if not path.is_file():
        detail = _missing(filename, record.status.value, record.summary)
        raise ApiError(404, "artifact_not_available", f"{filename} is not available: {detail}")
    return FileResponse(path, media_type=media_type, filename=filename)


def _missing(filename: str, status: str, summary: dict | None) -> str:
    artifacts = (summary or {}).get("artifacts") or {}
    if filename == "model.onnx" and artifacts.get("onnx_error"):
        return f"this model could not be exported to ONNX ({artifacts['onnx_error']})"
    if status in ("queued", "running"):
        return f"the job is {status}; it is written when the run completes"
    return f"the job ended {status} before writing it"
