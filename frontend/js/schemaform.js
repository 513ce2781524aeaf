// A form generated from a pydantic JSON Schema: one control per property, typed values out (ints stay ints,
// because the API's models are strict), so no layer ever needs a hand-written form.
import { el } from "./format.js";

function resolve(schema, root) {
  let s = schema;
  for (let i = 0; s && s.$ref && i < 8; i++) {
    const name = s.$ref.split("/").pop();
    s = { ...root.$defs?.[name], ...s, $ref: undefined };
  }
  if (s && s.allOf && s.allOf.length === 1) s = { ...resolve(s.allOf[0], root), ...s, allOf: undefined };
  return s;
}

/** Split `anyOf: [X, {type: null}]` into (X, nullable). */
function unwrapNullable(schema, root) {
  const s = resolve(schema, root);
  if (Array.isArray(s.anyOf)) {
    const options = s.anyOf.map((o) => resolve(o, root));
    const nonNull = options.filter((o) => o.type !== "null");
    if (nonNull.length === 1) return { schema: { ...s, ...nonNull[0], anyOf: undefined }, nullable: true };
  }
  return { schema: s, nullable: false };
}

function enumOf(s) {
  if (Array.isArray(s.enum)) return s.enum;
  if (s.const !== undefined) return [s.const];
  return null;
}

function labelText(name, s) {
  return s.title && s.title.toLowerCase().replaceAll(" ", "_") !== name ? s.title : name.replaceAll("_", " ");
}

/** Build a control for one property; `onValue(value)` gets the parsed value, `onError(msg)` a local problem. */
function control(name, prop, value, onValue, onError) {
  const { schema: s, nullable } = prop;
  const choices = enumOf(s);
  const id = `f-${name}`;
  if (choices) {
    const sel = el("select", { id, name },
      nullable ? el("option", { value: "", text: "—" }) : null,
      choices.map((c) => el("option", { value: String(c), text: String(c) })));
    sel.value = value == null ? "" : String(value);
    sel.addEventListener("change", () => {
      const picked = choices.find((c) => String(c) === sel.value);
      onValue(sel.value === "" && nullable ? null : picked);
    });
    return sel;
  }
  if (s.type === "boolean") {
    const box = el("input", { id, name, type: "checkbox" });
    box.checked = Boolean(value);
    box.addEventListener("change", () => onValue(box.checked));
    return box;
  }
  if (s.type === "integer" || s.type === "number") {
    const input = el("input", { id, name, type: "number", step: s.type === "integer" ? "1" : "any" });
    if (s.minimum != null) input.min = s.minimum;
    if (s.maximum != null) input.max = s.maximum;
    input.value = value == null ? "" : String(value);
    if (nullable) input.placeholder = "—";
    input.addEventListener("input", () => {
      const raw = input.value.trim();
      if (raw === "" && nullable) return onValue(null);
      const n = s.type === "integer" ? Number.parseInt(raw, 10) : Number.parseFloat(raw);
      if (!Number.isFinite(n) || (s.type === "integer" && String(n) !== raw.replace(/^\+/, ""))) {
        return onError(`${name}: ${raw || "?"}`);
      }
      onValue(n);
    });
    return input;
  }
  if (s.type === "array") {
    const item = s.items ?? {};
    const input = el("input", { id, name, type: "text", placeholder: "1, 28, 28" });
    input.value = Array.isArray(value) ? value.join(", ") : "";
    input.addEventListener("input", () => {
      const parts = input.value.split(/[\s,×x]+/).filter(Boolean);
      const nums = parts.map((p) => (item.type === "integer" ? Number.parseInt(p, 10) : Number.parseFloat(p)));
      if (nums.some((n) => !Number.isFinite(n))) return onError(`${name}: ${input.value}`);
      onValue(item.type === "string" ? parts : nums);
    });
    return input;
  }
  const input = el("input", { id, name, type: "text" });
  if (s.pattern) input.pattern = s.pattern;
  input.value = value == null ? "" : String(value);
  input.addEventListener("input", () => onValue(input.value === "" && nullable ? null : input.value));
  return input;
}

/**
 * Render `schema`'s properties for `values` into a fragment of labelled rows.
 * `onChange(name, value)` fires for every valid edit.
 */
export function schemaForm(schema, values, onChange, { onError = () => {}, describe = null } = {}) {
  const rows = [];
  const props = schema?.properties ?? {};
  for (const [name, raw] of Object.entries(props)) {
    const prop = unwrapNullable(raw, schema);
    const value = values?.[name] ?? prop.schema.default ?? null;
    const help = describe?.(name) ?? prop.schema.description ?? "";
    const input = control(name, prop, value, (v) => onChange(name, v), onError);
    const row = el("label", { class: "form-row", for: `f-${name}`, title: help },
      el("span", { class: "form-label", text: labelText(name, prop.schema) }), input);
    rows.push(row);
  }
  return rows;
}
