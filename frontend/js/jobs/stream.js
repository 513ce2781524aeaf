// Following a job: the websocket (replay after after_seq, -1 = from the start, then live), resuming after a drop
// from the last seq seen.
// If the socket cannot be opened at all, the scalar history is polled instead so curves still appear.
import { api } from "../api.js";
import { decodeBinary } from "./frames.js";

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "interrupted"]);
export const isTerminal = (status) => TERMINAL.has(status);

/** Events of a metrics answer, whatever its envelope ({events}, {items}, or a bare list). */
function eventsOf(body) {
  if (Array.isArray(body)) return body;
  return body?.events ?? body?.items ?? body?.metrics ?? [];
}

export class JobStream {
  /** `onText(frame)` for JSON frames, `onTensor(header, values)` for binary frames, `onEnd()` once. */
  constructor(jobId, { afterSeq = -1, onText, onTensor, onEnd }) {
    Object.assign(this, { jobId, lastSeq: afterSeq, onText, onTensor, onEnd });
    this.closed = false;
    this.ended = false;
    this.everOpened = false;
    this.retries = 0;
    this.open();
  }

  open() {
    if (this.closed) return;
    const ws = new WebSocket(api.streamUrl(this.jobId, this.lastSeq));
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this.everOpened = true;
      this.retries = 0;
    };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => {
      this.ws = null;
      if (this.closed || this.ended) return;
      if (ev.code === 1000) return this.finish();
      if (!this.everOpened && this.retries >= 1) return this.poll();
      this.retries += 1;
      if (this.retries > 8) return this.poll();
      setTimeout(() => this.open(), Math.min(4000, 250 * 2 ** this.retries));
    };
  }

  receive(data) {
    if (typeof data === "string") {
      const frame = JSON.parse(data);
      if (typeof frame.seq === "number") {
        if (frame.seq <= this.lastSeq) return; // already seen before a reconnect
        this.lastSeq = frame.seq;
      }
      this.onText?.(frame);
      if (frame.type === "status" && isTerminal(frame.status)) this.finish();
      return;
    }
    const { header, values } = decodeBinary(data);
    if (typeof header.seq === "number") this.lastSeq = Math.max(this.lastSeq, header.seq);
    this.onTensor?.(header, values);
  }

  /** Fallback: poll the scalar history and the job record until the job ends. */
  async poll() {
    while (!this.closed && !this.ended) {
      try {
        for (const frame of eventsOf(await api.metrics(this.jobId, this.lastSeq))) {
          if (typeof frame.seq === "number" && frame.seq <= this.lastSeq) continue;
          if (typeof frame.seq === "number") this.lastSeq = frame.seq;
          this.onText?.(frame);
        }
        const job = await api.job(this.jobId);
        if (isTerminal(job.status)) {
          this.onText?.({ type: "status", status: job.status, reason: job.reason ?? null, job });
          return this.finish();
        }
        this.onText?.({ type: "status", status: job.status, queue_position: job.queue_position, job,
          polled: true });
      } catch {
        // transient: try again on the next tick
      }
      await new Promise((r) => setTimeout(r, 700));
    }
  }

  finish() {
    if (this.ended) return;
    this.ended = true;
    this.onEnd?.();
  }

  close() {
    this.closed = true;
    if (this.ws && this.ws.readyState <= 1) this.ws.close(1000);
  }
}
