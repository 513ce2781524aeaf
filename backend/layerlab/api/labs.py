"""Lab routes: the declared labs, and running one as a job (DESIGN §12).

`POST /api/labs/{id}/run` {scale, seed, text?} queues a job whose worker runs the lab's runner; its
frames stream like any job's (GET /api/jobs/{id}/stream) and its summary carries the lab's outcome:
measurements, claim_holds and the en/ja verdict.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from ..catalogue.labs import LABS, LabParams, labs_json
from ..jobs.scheduler import QueueFull, UserQueueFull
from ..labs.lab_job import lab_payload
from ..labs.registry import RUNNERS  # importing the registry registers every runner
from .body import read_json_object
from .errors import ApiError, ErrorBody
from .jobs import SUBMIT_ERRORS, CurrentUser, JobOut, Service, job_out

router = APIRouter(tags=["labs"])


class LabList(BaseModel):
    labs: list[dict[str, Any]] = Field(description="each lab's declaration (as in GET /api/catalogue) and whether "
                                                   "this server can run it")


@router.get("/api/labs", response_model=LabList, summary="The chapter's labs")
async def list_labs() -> LabList:
    return LabList(labs=[{**lab, "runnable": lab["id"] in RUNNERS} for lab in labs_json()])


@router.post(
    "/api/labs/{lab_id}/run",
    status_code=201,
    response_model=JobOut,
    summary="Run a lab as a job",
    responses={**SUBMIT_ERRORS, 404: {"model": ErrorBody, "description": "no such lab"}},
    openapi_extra={"requestBody": {"required": False, "content": {"application/json": {
        "schema": LabParams.model_json_schema()}}}},
)
async def run_lab(lab_id: str, request: Request, response: Response, service: Service, user: CurrentUser) -> JobOut:
    if lab_id not in LABS:
        raise ApiError(404, "not_found", f"no lab {lab_id[:64]!r}")
    if lab_id not in RUNNERS:
        raise ApiError(404, "not_found", f"lab {lab_id!r} is declared but this server has no runner for it")
    limits = request.app.state.settings.limits
    raw = await read_json_object(request, max_depth=limits.max_json_depth) if await request.body() else {}
    params = LabParams.model_validate(raw)
    retry = {"Retry-After": str(service.settings.jobs.retry_after_s)}
    try:
        view = service.submit_task(user.id, lab_payload(lab_id, params), name=f"lab: {lab_id}")
    except QueueFull as exc:
        raise ApiError(503, "queue_full", str(exc), cap="queue_cap", headers=retry) from None
    except UserQueueFull as exc:
        raise ApiError(429, "too_many_queued", str(exc), cap="max_queued", headers=retry) from None
    response.headers["Location"] = f"/api/jobs/{view.record.id}"
    return job_out(view)
