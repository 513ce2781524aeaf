"""Job routes (DESIGN §6): submit, list, read, cancel, and the scalar history of a job.

A submission is validated completely (same checks and error body as POST /api/validate) BEFORE anything
is queued; a full queue answers 503 (or 429 for one user's queue) with Retry-After. Every route takes the
user from `current_user`, and another user's job answers 404 like a missing one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..catalogue.spec import JobSpec
from ..catalogue.validate import validate_request
from ..jobs.artifacts import ARTIFACTS
from ..jobs.model import JobStatus
from ..jobs.scheduler import QueueFull, UserQueueFull
from ..jobs.service import JobConflict, JobNotFound, JobService, JobView
from ..jobs.store import IdempotencyConflict
from .body import read_json_object
from .errors import ERROR_RESPONSES, ApiError, ErrorBody
from .identity import User, current_user
from .validate import SPEC_BODY_SCHEMA

router = APIRouter(tags=["jobs"])
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
EventType = Literal["status", "metrics", "log", "summary", "error"]


class JobLinks(BaseModel):
    self: str
    metrics: str
    stream: str = Field(description="websocket: live frames, ?after_seq=N replays history first")
    artifacts: dict[str, str] = Field(description="artifact name -> URL (404 until it exists)")


class JobOut(BaseModel):
    """A job record. Times are Unix seconds."""

    id: str = Field(description="opaque id (uuid4 hex)")
    name: str | None
    status: JobStatus
    reason: str | None = Field(description="oom, nan_loss, timeout, lost_heartbeat, shutdown, api_restart, "
                                           "worker_died:signal_N, exception:<Type>: message; null otherwise")
    created_at: float
    started_at: float | None
    finished_at: float | None
    device: str | None = Field(description="where it runs or ran, e.g. 'cpu (2 threads)' or 'cuda:0 x0.25'")
    attempt: int = Field(description="times it was started")
    queue_position: int | None = Field(description="1 = next to start; null unless queued")
    last_seq: int = Field(description="highest event seq stored for this job")
    summary: dict[str, Any] | None = Field(description="final metrics of a finished run")
    worker_pid: int | None = Field(default=None, description="the job's worker process while running (local)")
    spec: dict[str, Any] | None = Field(default=None, description="the full normalised spec (single-job reads)")
    links: JobLinks


class JobList(BaseModel):
    jobs: list[JobOut]
    total: int
    limit: int
    offset: int


class EventsPage(BaseModel):
    """Stored text frames (the wire format of the stream) with seq > after_seq, in seq order."""

    job_id: str
    status: JobStatus
    after_seq: int
    last_seq: int = Field(description="seq of the last frame in this page (after_seq if none): pass it back")
    events: list[dict[str, Any]]


ERRORS_404 = {404: {"model": ErrorBody, "description": "no such job (for this user)"}}
SUBMIT_ERRORS = {
    **ERROR_RESPONSES,
    409: {"model": ErrorBody, "description": "Idempotency-Key reused with a different body"},
    429: {"model": ErrorBody, "description": "this user's queue is full (limits.max_queued); see Retry-After"},
    503: {"model": ErrorBody, "description": "the job queue is full (limits.queue_cap); see Retry-After"},
}


def job_service(request: Request) -> JobService:
    service = getattr(request.app.state, "jobs", None)
    if service is None:
        raise ApiError(503, "unavailable", "the job service is not running")
    return service


Service = Annotated[JobService, Depends(job_service)]
CurrentUser = Annotated[User, Depends(current_user)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the job service (reconcile, executor, queue) with the app; stop it (jobs -> interrupted) after."""
    service = JobService(app.state.settings)
    await service.start()
    app.state.jobs = service
    try:
        yield
    finally:
        app.state.jobs = None
        await service.stop()


def job_out(view: JobView, *, with_spec: bool = False) -> JobOut:
    r = view.record
    base = f"/api/jobs/{r.id}"
    links = JobLinks(self=base, metrics=f"{base}/metrics", stream=f"{base}/stream",
                     artifacts={name: f"{base}/artifacts/{name}" for name in ARTIFACTS})
    return JobOut(id=r.id, name=r.name, status=r.status, reason=r.reason, created_at=r.created_at,
                  started_at=r.started_at, finished_at=r.finished_at, device=r.device, attempt=r.attempt,
                  queue_position=view.queue_position, last_seq=r.last_seq, summary=r.summary,
                  worker_pid=view.worker_pid, spec=r.spec if with_spec else None, links=links)


def _not_found(job_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no job {job_id[:64]!r}")


@router.post(
    "/api/jobs",
    status_code=201,
    response_model=JobOut,
    response_model_exclude_none=False,
    summary="Submit a job: validated, then queued",
    responses=SUBMIT_ERRORS,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": SPEC_BODY_SCHEMA}}}},
)
async def submit_job(
    request: Request,
    response: Response,
    service: Service,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(description="retrying with the same key creates one job")] = None,
) -> JobOut:
    limits = request.app.state.settings.limits
    raw = await read_json_object(request, max_depth=limits.max_json_depth)
    if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise ApiError(422, "invalid_header", "Idempotency-Key must be 1-200 visible ASCII characters",
                       loc=["header", "Idempotency-Key"])
    if "data" not in raw:
        raise ApiError(422, "invalid_spec", "a job needs 'data' (the data set to train on) besides 'model'",
                       loc=["data"])
    await run_in_threadpool(validate_request, raw, limits)
    spec = JobSpec.model_validate(raw)
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    retry = {"Retry-After": str(service.settings.jobs.retry_after_s)}
    try:
        view, created = service.submit(user.id, spec, idempotency_key=idempotency_key, request_hash=digest)
    except QueueFull as exc:
        raise ApiError(503, "queue_full", str(exc), cap="queue_cap", headers=retry) from None
    except UserQueueFull as exc:
        raise ApiError(429, "too_many_queued", str(exc), cap="max_queued", headers=retry) from None
    except IdempotencyConflict:
        raise ApiError(409, "idempotency_conflict",
                       "this Idempotency-Key was used with a different request body") from None
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/jobs/{view.record.id}"
    return job_out(view)


@router.get("/api/jobs", response_model=JobList, summary="List your jobs, newest first")
async def list_jobs(
    service: Service,
    user: CurrentUser,
    status: Annotated[list[JobStatus] | None, Query(description="repeat to allow several")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JobList:
    views, total = service.list(user.sees, status or [], limit, offset)
    return JobList(jobs=[job_out(v) for v in views], total=total, limit=limit, offset=offset)


@router.get("/api/jobs/{job_id}", response_model=JobOut, summary="One job, with its spec", responses=ERRORS_404)
async def get_job(job_id: str, service: Service, user: CurrentUser) -> JobOut:
    try:
        return job_out(service.get(user.sees, job_id), with_spec=True)
    except JobNotFound:
        raise _not_found(job_id) from None


@router.post(
    "/api/jobs/{job_id}/cancel",
    status_code=202,
    response_model=JobOut,
    summary="Cancel: a queued job at once, a running one within about 2 s",
    responses={**ERRORS_404, 409: {"model": ErrorBody, "description": "the job has already finished"}},
)
async def cancel_job(job_id: str, service: Service, user: CurrentUser) -> JobOut:
    try:
        return job_out(service.cancel(user.sees, job_id))
    except JobNotFound:
        raise _not_found(job_id) from None
    except JobConflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None


@router.get(
    "/api/jobs/{job_id}/metrics",
    summary="Scalar history: stored text frames after a seq",
    responses={200: {"model": EventsPage, "description": "frames in seq order"}, **ERRORS_404},
)
async def job_metrics(
    job_id: str,
    service: Service,
    user: CurrentUser,
    after_seq: Annotated[int, Query(ge=-1, le=2**62)] = -1,
    type: Annotated[list[EventType] | None, Query(description="only these frame types (repeatable)")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
) -> Response:
    try:
        view = service.get(user.sees, job_id)
        rows = service.events(user.sees, job_id, after_seq, tuple(type or ()), limit)
    except JobNotFound:
        raise _not_found(job_id) from None
    last = rows[-1].seq if rows else after_seq
    head = json.dumps({"job_id": view.record.id, "status": view.record.status.value, "after_seq": after_seq,
                       "last_seq": last}, separators=(",", ":"))
    # The stored frames are already JSON: splice them in rather than decode and re-encode each one.
    body = head[:-1] + ',"events":[' + ",".join(r.body for r in rows) + "]}"
    return Response(body.encode(), media_type="application/json")
