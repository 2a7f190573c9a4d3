// Small helpers /admin's modules share: building elements, and calls whose answer the
// page needs whole (an upload's error lines, a download's bytes).

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/**
 * fetch with the bearer token; resolves {ok, status, data} where data is the parsed
 * JSON (an error's whole `error` object, `detail.errors` included), a Blob for files,
 * or null. Network failures resolve {ok: false, status: 0}.
 */
export async function call(path, { token, method = "GET", body, headers = {} } = {}) {
  const sent = new Headers(headers);
  sent.set("Authorization", `Bearer ${token}`);
  let response;
  try {
    response = await fetch(path, { method, headers: sent, body, cache: "no-store" });
  } catch (err) {
    return { ok: false, status: 0, data: { error: { code: "network", message: String(err.message || err) } } };
  }
  const type = response.headers.get("Content-Type") || "";
  let data = null;
  if (type.includes("json")) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  } else if (response.ok) {
    data = await response.blob();
  }
  return { ok: response.ok, status: response.status, data };
}

/** The message of a failed call's answer. */
export function errorMessage(result) {
  const error = result.data && result.data.error;
  return (error && error.message) || `HTTP ${result.status}`;
}

/** Save a Blob under `name` (the browser's download). */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: name });
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** A read-only text field with a copy button, labelled. */
export function copyField(label, value, id, copyLabel, copiedLabel) {
  const input = el("input", { id, type: "text", readonly: "", value, spellcheck: "false" });
  const button = el("button", { type: "button", class: "btn secondary", text: copyLabel });
  button.addEventListener("click", async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      document.execCommand?.("copy"); // older browsers; the text stays selected anyway
    }
    button.textContent = copiedLabel;
    setTimeout(() => (button.textContent = copyLabel), 2000);
  });
  return el("div", { class: "copy-field" }, el("label", { for: id, text: label }), el("div", { class: "copy-row" }, input, button));
}

/** The server's QR code SVG as a node: parsed, and only if it is an <svg> without scripts. */
export function qrNode(svgText, label) {
  const template = document.createElement("template");
  template.innerHTML = svgText;
  const svg = template.content.firstElementChild;
  if (!svg || svg.tagName.toLowerCase() !== "svg" || svg.querySelector("script, foreignObject")) {
    return null;
  }
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.classList.add("qr");
  return svg;
}

/** Put `children` in the result box `id`, styled by `kind` (ok, bad, issued, or ""). */
export function showResult(id, kind, ...children) {
  const box = document.getElementById(id);
  box.className = `result ${kind}`;
  box.replaceChildren(...children);
}
