// The page: controls built from GET /models (each model's sampler options), POST /generate, images shown.
"use strict";
const $ = (id) => document.getElementById(id);
let models = [];

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

async function answerError(response) {
  let detail = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (typeof body.detail === "string") detail = body.detail;
    else if (Array.isArray(body.detail)) detail = body.detail.map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ");
    if (body.field) detail = `${body.field}: ${detail}`;
  } catch (_) { /* not JSON */ }
  if (response.status === 503) detail += ` (retry after ${response.headers.get("Retry-After") || "a few"} s)`;
  return detail;
}

function optionControl(name, opt) {
  const label = document.createElement("label");
  label.textContent = name.replace("_", " ");
  let input;
  if (opt.choices) {
    input = document.createElement("select");
    for (const c of opt.choices) input.add(new Option(c, c, false, c === opt.default));
  } else {
    input = document.createElement("input");
    input.type = "number";
    if (opt.min !== undefined) input.min = opt.min;
    if (opt.max !== undefined) input.max = opt.max;
    input.step = opt.type === "int" ? "1" : "any";
    input.value = opt.default;
    input.required = true;
  }
  input.dataset.option = name;
  input.dataset.type = opt.type;
  input.id = `opt-${name}`;
  const hint = document.createElement("span");
  hint.className = "hint";
  const range = opt.min !== undefined ? ` (${opt.min}..${opt.max})` : "";
  hint.textContent = opt.help + range;
  label.append(input, hint);
  return label;
}

function selectModel() {
  const m = models.find((x) => x.name === $("model").value);
  if (!m) return;
  const metrics = Object.entries(m.metrics || {}).map(([k, v]) => `${k} ${typeof v === "number" ? v.toFixed(3) : v}`);
  $("model-info").textContent = `${m.kind} on ${m.dataset}, ${m.image_size}px, ${m.parameters.toLocaleString()} parameters` +
    (m.train_seconds ? `, trained ${Math.round(m.train_seconds)} s` : "") + (metrics.length ? `; ${metrics.join(", ")}` : "");
  $("class-row").hidden = !m.conditional;
  const cls = $("class");
  cls.replaceChildren(new Option("all classes (balanced)", "balanced"));
  m.classes.forEach((name, i) => cls.add(new Option(name, String(i))));
  const box = $("options");
  box.replaceChildren(Object.assign(document.createElement("legend"), { textContent: "Sampler" }));
  for (const [name, opt] of Object.entries(m.sampler_options)) box.append(optionControl(name, opt));
  box.classList.toggle("empty", Object.keys(m.sampler_options).length === 0);
}

async function loadModels() {
  const response = await fetch("/models");
  if (!response.ok) return showError(`could not list the models: ${await answerError(response)}`);
  const body = await response.json();
  models = body.models;
  $("n").max = body.limits.max_n;
  if (!models.length) {
    $("generate").disabled = true;
    return showError("no trained model was found under the server's runs folder: run `make book` first, " +
      "or start the server with --runs pointing at a folder of runs");
  }
  for (const m of models) $("model").add(new Option(`${m.name} (${m.kind})`, m.name));
  selectModel();
}

async function generate(event) {
  event.preventDefault();
  $("error").hidden = true;
  const m = models.find((x) => x.name === $("model").value);
  const body = { model: m.name, n: Number($("n").value), seed: Number($("seed").value), output: "json" };
  if (m.conditional) body.labels = $("class").value === "balanced" ? "balanced" : [Number($("class").value)];
  // Only options changed from the model's defaults are sent, so the model fills in the rest
  // (e.g. its ancestral sampler ignores the DDIM-only ones).
  for (const el of $("options").querySelectorAll("[data-option]")) {
    const value = el.dataset.type === "str" ? el.value : Number(el.value);
    if (value !== m.sampler_options[el.dataset.option].default) body[el.dataset.option] = value;
  }
  $("generate").disabled = true;
  $("status").textContent = "generating…";
  const t0 = performance.now();
  try {
    const response = await fetch("/generate", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (!response.ok) { $("status").textContent = ""; return showError(await answerError(response)); }
    const answer = await response.json();
    const figures = answer.images.map((b64, i) => {
      const fig = document.createElement("figure");
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      const label = answer.labels ? m.classes[answer.labels[i]] : "";
      img.alt = label ? `generated ${label}` : "generated image";
      img.className = "sample";
      img.dataset.label = answer.labels ? answer.labels[i] : "";
      const cap = document.createElement("figcaption");
      cap.textContent = label;
      fig.append(img, cap);
      return fig;
    });
    $("images").replaceChildren(...figures);
    $("status").textContent = `${answer.n} images from ${answer.model} (seed ${answer.seed}) in ` +
      `${answer.seconds.toFixed(2)} s of sampling, ${((performance.now() - t0) / 1000).toFixed(2)} s in all`;
  } catch (err) {
    $("status").textContent = "";
    showError(`the server could not be reached: ${err.message}`);
  } finally {
    $("generate").disabled = false;
  }
}

$("model").addEventListener("change", selectModel);
$("random-seed").addEventListener("click", () => { $("seed").value = Math.floor(Math.random() * 2 ** 31); });
$("controls").addEventListener("submit", generate);
loadModels().catch((err) => showError(`could not list the models: ${err.message}`));
