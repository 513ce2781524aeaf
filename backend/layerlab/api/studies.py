"""Study routes: a group of jobs that differ in one or two settings, drawn together (DESIGN §12).

`POST /api/studies` validates every variant before anything is queued (422 names the variant and the node),
then queues ONE batched job when the variants can share a batched ensemble, else one job per variant.
`GET /api/studies/{id}` gives each member's values, job, status and final metrics, and the points of the
summary plot (final metric against the varied setting).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..jobs.model import TERMINAL, JobStatus
from ..jobs.scheduler import QueueFull, UserQueueFull
from ..jobs.service import JobConflict, JobNotFound, JobService
from ..jobs.store import sqlite_path
from ..labs.study import StudyPlan, StudyRequest, plan_study
from ..labs.study_run import study_payload
from ..labs.study_store import StudyRecord, StudyStore
from .body import read_json_object
from .errors import ApiError, ErrorBody
from .jobs import SUBMIT_ERRORS, CurrentUser, Service

router = APIRouter(tags=["studies"])
ERRORS_404 = {404: {"model": ErrorBody, "description": "no such study (for this user)"}}


class MemberOut(BaseModel):
    index: int
    label: str = Field(description="e.g. 'train.optimizer.name=adam'")
    values: dict[str, Any] = Field(description="varied path -> the value this member was given")
    job_id: str = Field(description="its job (the same for every member of a batched study)")
    status: JobStatus
    metrics: dict[str, Any] | None = Field(description="final train/test loss and accuracy once finished")


class PlotPoint(BaseModel):
    x: Any
    series: Any = None
    y: float | None


class SummaryPlot(BaseModel):
    metric: str = Field(description="test_accuracy, or test_loss when the task has no accuracy")
    x: str = Field(description="the varied path on the x axis")
    series: str | None = Field(description="the second varied path (one line per value), if any")
    points: list[PlotPoint]


class StudyOut(BaseModel):
    id: str
    name: str | None
    mode: str = Field(description="batched: one job trains every member; jobs: one job per member")
    why_not_batched: str | None = Field(description="the reason the variants could not share a batched ensemble")
    axes: list[dict[str, Any]]
    created_at: float
    status: JobStatus = Field(description="running/queued while any member is; else succeeded if all did")
    jobs: list[str]
    members: list[MemberOut]
    summary_plot: SummaryPlot


class StudyList(BaseModel):
    studies: list[StudyOut]
    total: int


def study_store(request: Request) -> StudyStore:
    store = getattr(request.app.state, "studies", None)
    if store is None:
        raise ApiError(503, "unavailable", "the study store is not open")
    return store


Studies = Annotated[StudyStore, Depends(study_store)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the study tables in the job store's database for the app's lifetime."""
    store = StudyStore(sqlite_path(app.state.settings.database_url))
    app.state.studies = store
    try:
        yield
    finally:
        app.state.studies = None
        store.close()


def _aggregate(statuses: list[JobStatus]) -> JobStatus:
    if any(s is JobStatus.RUNNING for s in statuses):
        return JobStatus.RUNNING
    if any(s not in TERMINAL for s in statuses):
        return JobStatus.QUEUED
    if all(s is JobStatus.SUCCEEDED for s in statuses):
        return JobStatus.SUCCEEDED
    if any(s is JobStatus.FAILED for s in statuses):
        return JobStatus.FAILED
    return next(s for s in statuses if s is not JobStatus.SUCCEEDED)


_METRICS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "best_test_loss", "best_test_accuracy")


def study_out(record: StudyRecord, service: JobService, sees: frozenset[str]) -> StudyOut:
    views = {}
    for job_id in dict.fromkeys(record.job_ids):
        try:
            views[job_id] = service.get(sees, job_id)
        except JobNotFound:
            continue
    members = []
    for i, m in enumerate(record.plan["members"]):
        job_id = record.job_ids[0] if record.mode == "batched" else record.job_ids[i]
        view = views.get(job_id)
        status = view.record.status if view is not None else JobStatus.INTERRUPTED
        summary = view.record.summary if view is not None else None
        if record.mode == "batched" and summary is not None:
            summary = (summary.get("members") or [{}] * len(record.plan["members"]))[i]
        metrics = {k: summary.get(k) for k in _METRICS} if summary else None
        members.append(MemberOut(index=i, label=m["label"], values=m["values"], job_id=job_id, status=status,
                                 metrics=metrics))
    axes = record.plan["axes"]
    has_acc = all(mb.metrics is None or mb.metrics.get("test_accuracy") is not None for mb in members)
    metric = "test_accuracy" if has_acc else "test_loss"
    series = axes[1]["path"] if len(axes) > 1 else None
    points = [PlotPoint(x=mb.values[axes[0]["path"]], series=mb.values.get(series) if series else None,
                        y=(mb.metrics or {}).get(metric)) for mb in members]
    return StudyOut(id=record.id, name=record.name, mode=record.mode,
                    why_not_batched=record.plan.get("why_not_batched"), axes=axes, created_at=record.created_at,
                    status=_aggregate([mb.status for mb in members]), jobs=list(dict.fromkeys(record.job_ids)),
                    members=members,
                    summary_plot=SummaryPlot(metric=metric, x=axes[0]["path"], series=series, points=points))


def _get(studies: StudyStore, study_id: str, sees: frozenset[str]) -> StudyRecord:
    record = studies.get(study_id)
    if record is None or record.owner not in sees:
        raise ApiError(404, "not_found", f"no study {study_id[:64]!r}")
    return record


@router.post(
    "/api/studies",
    status_code=201,
    response_model=StudyOut,
    summary="Start a study: every variant validated, then one batched job or one job per variant",
    responses=SUBMIT_ERRORS,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": StudyRequest.model_json_schema()}}}},
)
async def create_study(request: Request, response: Response, service: Service, studies: Studies,
                       user: CurrentUser) -> StudyOut:
    limits = request.app.state.settings.limits
    raw = await read_json_object(request, max_depth=limits.max_json_depth + 2)
    body = StudyRequest.model_validate(raw)
    plan: StudyPlan = await run_in_threadpool(plan_study, body, limits)
    study_id = uuid.uuid4().hex
    retry = {"Retry-After": str(service.settings.jobs.retry_after_s)}
    try:
        if plan.mode == "batched":
            name = plan.name or "study: " + " × ".join(a.path for a in plan.axes)
            jobs = [service.submit_task(user.id, study_payload(plan, study_id), name=name)]
        else:
            jobs = service.submit_group(user.id, [v.spec for v in plan.variants])
    except QueueFull as exc:
        raise ApiError(503, "queue_full", str(exc), cap="queue_cap", headers=retry) from None
    except UserQueueFull as exc:
        raise ApiError(429, "too_many_queued", str(exc), cap="max_queued", headers=retry) from None
    stored_plan = {"axes": [a.model_dump(mode="json") for a in plan.axes],
                   "members": [v.to_json() for v in plan.variants], "why_not_batched": plan.why_not_batched}
    record = studies.create(study_id=study_id, owner=user.id, name=plan.name, mode=plan.mode, plan=stored_plan,
                            job_ids=[v.record.id for v in jobs])
    response.headers["Location"] = f"/api/studies/{study_id}"
    return study_out(record, service, user.sees)


@router.get("/api/studies", response_model=StudyList, summary="Your studies, newest first")
async def list_studies(
    service: Service, studies: Studies, user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 20, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> StudyList:
    records, total = studies.list(user.sees, limit, offset)
    return StudyList(studies=[study_out(r, service, user.sees) for r in records], total=total)


@router.get("/api/studies/{study_id}", response_model=StudyOut, summary="One study: members, status, metrics",
            responses=ERRORS_404)
async def get_study(study_id: str, service: Service, studies: Studies, user: CurrentUser) -> StudyOut:
    return study_out(_get(studies, study_id, user.sees), service, user.sees)


@router.post("/api/studies/{study_id}/cancel", status_code=202, response_model=StudyOut,
             summary="Cancel every member job that has not finished", responses=ERRORS_404)
async def cancel_study(study_id: str, service: Service, studies: Studies, user: CurrentUser) -> StudyOut:
    record = _get(studies, study_id, user.sees)
    for job_id in dict.fromkeys(record.job_ids):
        try:
            service.cancel(user.sees, job_id)
        except (JobConflict, JobNotFound):
            continue  # already finished
    return study_out(record, service, user.sees)
