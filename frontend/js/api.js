// REST client for the LayerLab API (DESIGN §6). Errors carry the server's body so the UI can place them.

export class ApiError extends Error {
  constructor(status, body) {
    super(errorMessage(body) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** The server's error bodies: {"message","node_id","loc"} or FastAPI's {"detail": ...}. */
export function errorMessage(body) {
  if (!body) return "";
  if (typeof body === "string") return body;
  if (body.message) return body.message;
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail) && body.detail.length) {
    const d = body.detail[0];
    return `${(d.loc || []).join(".")}: ${d.msg}`;
  }
  if (body.detail && body.detail.message) return body.detail.message;
  return "";
}

/** Normalise a 422 body to {message, node_id, loc} whatever shape the server used. */
export function specError(body) {
  const inner = body && body.detail && typeof body.detail === "object" && !Array.isArray(body.detail)
    ? body.detail : body;
  return {
    message: errorMessage(body),
    node_id: inner?.node_id ?? null,
    loc: inner?.loc ?? (Array.isArray(body?.detail) ? body.detail[0]?.loc : null) ?? [],
  };
}

async function request(method, path, body, { signal } = {}) {
  const init = { method, headers: {}, signal };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export const api = {
  catalogue: () => request("GET", "/api/catalogue"),
  validate: (spec, opts) => request("POST", "/api/validate", spec, opts),
  submit: (spec) => request("POST", "/api/jobs", spec),
  jobs: (limit = 50) => request("GET", `/api/jobs?limit=${limit}`),
  job: (id) => request("GET", `/api/jobs/${encodeURIComponent(id)}`),
  cancel: (id) => request("POST", `/api/jobs/${encodeURIComponent(id)}/cancel`),
  metrics: (id, afterSeq = -1) => request("GET", `/api/jobs/${encodeURIComponent(id)}/metrics?after_seq=${afterSeq}`),
  preview: (data) => request("POST", "/api/datasets/preview", data),
  createStudy: (body) => request("POST", "/api/studies", body),
  study: (id) => request("GET", `/api/studies/${encodeURIComponent(id)}`),
  runLab: (id, body) => request("POST", `/api/labs/${encodeURIComponent(id)}/run`, body),
  artifactUrl: (id, name) => `/api/jobs/${encodeURIComponent(id)}/artifacts/${encodeURIComponent(name)}`,
  streamUrl: (id, afterSeq = -1) => {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${location.host}/api/jobs/${encodeURIComponent(id)}/stream?after_seq=${afterSeq}`;
  },
};

export const ARTIFACTS = ["spec.json", "weights.safetensors", "model.onnx", "model.py"];
