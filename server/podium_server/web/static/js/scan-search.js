// Manual search for someone without their badge: the server's `search` (name,
// organisation, id, pinyin of Chinese names), then a manual check-in of the person picked.
// Results never carry a badge code: the check-in names the participant instead.

import { t } from "./i18n.js";

const DEBOUNCE_MS = 300;
const HAN = /[\u3400-\u9fff]/;

export class SearchBox {
  /** onPick(person): check this person in (or out) by hand. */
  constructor({ input, note, list, socket, direction, onPick }) {
    this.input = input;
    this.note = note;
    this.list = list;
    this.socket = socket;
    this.direction = direction; // () => "in" | "out"
    this.onPick = onPick;
    this.timer = null;
    this.asked = 0; // answers to older queries are dropped
    this.people = [];
    input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.run(), DEBOUNCE_MS);
    });
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        clearTimeout(this.timer);
        this.run();
      }
    });
  }

  async run() {
    const query = this.input.value.trim();
    const asked = ++this.asked;
    if (!query) return this._show([], "");
    if (query.length < 2 && !HAN.test(query)) return this._show([], t("scan.search_short"));
    if (this.socket.state !== "live") return this._show([], t("scan.search_offline"));
    try {
      const reply = await this.socket.request("search", { query });
      if (asked !== this.asked) return undefined;
      const people = reply.participants || [];
      return this._show(people, people.length ? "" : t("scan.search_none"));
    } catch (err) {
      if (asked !== this.asked) return undefined;
      return this._show([], err && err.message ? err.message : String(err));
    }
  }

  /** Redraw (after a language or direction change). */
  refresh() {
    this._show(this.people, this.note.textContent);
  }

  clear() {
    this.input.value = "";
    this._show([], "");
  }

  _show(people, note) {
    this.people = people;
    this.note.textContent = note;
    const action = this.direction() === "out" ? t("scan.check_out") : t("scan.check_in");
    this.list.replaceChildren(
      ...people.map((person) => {
        const li = document.createElement("li");
        const who = document.createElement("div");
        who.className = "who";
        const name = document.createElement("strong");
        name.textContent = person.name;
        const detail = document.createElement("span");
        detail.className = "muted";
        detail.textContent = [person.organization, person.province, person.id]
          .filter(Boolean)
          .join(" · ");
        who.append(name, detail);
        const button = document.createElement("button");
        button.type = "button";
        button.className = "btn";
        button.textContent = action;
        button.setAttribute("aria-label", `${action}: ${person.name} (${person.id})`);
        button.addEventListener("click", () => this.onPick(person));
        li.append(who, button);
        return li;
      })
    );
  }
}
