// /admin's links: issue a staff scanner link (QR code + text) or a speaker link
// (publish page, WHIP URL + token for OBS), and the list of links issued, each
// revocable from its row.

import { call, copyField, el, errorMessage, qrNode, showResult } from "./admin-dom.js";
import { formatDateTime, t } from "./i18n.js";

const TTLS = ["12h", "1d", "3d"];
const $ = (id) => document.getElementById(id);

export class LinkPanel {
  /** `event()` gives the current programme; `changed()` after anything was issued or revoked. */
  constructor(token, event, changed) {
    this.token = token;
    this.event = event;
    this.changed = changed;
    $("staff-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const device = $("staff-device").value.trim();
      if (!device) {
        showResult("staff-result", "bad", el("p", { text: t("admin.device_needed") }));
        $("staff-device").setAttribute("aria-invalid", "true");
        $("staff-device").focus();
        return;
      }
      $("staff-device").removeAttribute("aria-invalid");
      const session = $("staff-session").value || null;
      this.issue("staff-result", { role: "staff", device, session, ttl: $("staff-ttl").value });
    });
    $("speaker-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const session = $("speaker-session").value;
      this.issue("speaker-result", { role: "speaker", session, ttl: $("speaker-ttl").value });
    });
  }

  sessionTitle(id) {
    const session = this.event()?.sessions.find((s) => s.id === id);
    return session ? session.title : id || t("admin.all_sessions");
  }

  /** The forms' session and lifetime choices, in the page's language (choices kept). */
  fillSelects() {
    const event = this.event();
    if (!event) return;
    const sessions = [...event.sessions].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
    const staff = $("staff-session");
    const staffChosen = staff.value;
    staff.replaceChildren(
      el("option", { value: "", text: t("admin.all_sessions") }),
      ...sessions.map((s) => el("option", { value: s.id, text: s.title }))
    );
    staff.value = staffChosen;
    const speaker = $("speaker-session");
    const speakerChosen = speaker.value;
    const streamed = sessions.filter((s) => s.stream);
    speaker.replaceChildren(
      ...(streamed.length ? streamed : sessions).map((s) => el("option", { value: s.id, text: s.title }))
    );
    if (speakerChosen) speaker.value = speakerChosen;
    for (const select of document.querySelectorAll("select.ttl")) {
      const chosen = select.value || TTLS[0];
      select.replaceChildren(...TTLS.map((ttl) => el("option", { value: ttl, text: t(`admin.ttl_${ttl}`) })));
      select.value = chosen;
    }
  }

  linkResult(link) {
    const copy = (label, value, id) => copyField(label, value, id, t("admin.copy"), t("admin.copied"));
    const parts = [];
    const qr = qrNode(link.qr_svg, t("admin.qr_label"));
    if (link.role === "staff") {
      if (qr) parts.push(el("p", { class: "muted", text: t("admin.scan_qr") }), qr);
      parts.push(copy(t("admin.link"), link.url, "staff-link-url"));
    } else {
      parts.push(copy(t("admin.publish_link"), link.url, "speaker-link-url"));
      parts.push(copy(t("admin.whip_url"), link.whip_url, "speaker-whip-url"));
      parts.push(copy(t("admin.bearer"), link.token, "speaker-token"));
      if (qr) parts.push(qr);
    }
    const when = formatDateTime(link.exp, this.event().timezone);
    parts.push(el("p", { class: "muted", text: t("admin.expires_at", { when }) }));
    return parts;
  }

  async issue(resultId, body) {
    const answer = await call("/api/v1/links", {
      token: this.token,
      method: "POST",
      body: JSON.stringify(body),
      headers: { "Content-Type": "application/json" },
    });
    if (!answer.ok) {
      showResult(resultId, "bad", el("p", { text: errorMessage(answer) }));
      return;
    }
    showResult(resultId, "issued", ...this.linkResult(answer.data));
    await this.loadIssued();
    this.changed();
  }

  async revoke(jti) {
    await call("/api/v1/revocations", {
      token: this.token,
      method: "POST",
      body: JSON.stringify({ token: jti }),
      headers: { "Content-Type": "application/json" },
    });
    await this.loadIssued();
    this.changed();
  }

  async loadIssued() {
    const answer = await call("/api/v1/links", { token: this.token });
    if (!answer.ok) return;
    const now = Date.now() / 1000;
    const zone = this.event()?.timezone;
    const rows = answer.data.links.map((link) => {
      const status = el("td");
      if (link.revoked) status.append(el("span", { class: "tag bad", text: t("admin.revoked") }));
      else if (link.exp <= now) status.append(el("span", { class: "tag muted", text: t("admin.expired") }));
      else {
        const who = link.device || this.sessionTitle(link.session);
        const button = el("button", {
          type: "button",
          class: "btn danger small",
          text: t("admin.revoke"),
          "aria-label": t("admin.revoke_link", { role: t(`role.${link.role}`), device: who }),
        });
        button.addEventListener("click", () => {
          button.disabled = true;
          this.revoke(link.jti);
        });
        status.append(el("span", { class: "tag ok", text: t("admin.active") }), " ", button);
      }
      return el(
        "tr",
        { "data-jti": link.jti },
        el("td", { text: t(`role.${link.role}`) }),
        el("td", { text: link.device || "–" }),
        el("td", { text: this.sessionTitle(link.session) }),
        el("td", { class: "nowrap", text: formatDateTime(link.exp, zone) }),
        status
      );
    });
    $("issued-body").replaceChildren(...rows);
    $("issued-none").hidden = rows.length > 0;
  }
}
