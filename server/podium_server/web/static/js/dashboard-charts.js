// The dashboard's charts, drawn as inline SVG by this code (no chart library): bars of
// "attended of registered" and the arrivals curve. Rows are kept and updated in place,
// so a live update touches a few attributes, not the whole chart.

const SVG = "http://www.w3.org/2000/svg";

function svgNode(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

/**
 * Horizontal bars in `container`: rows [{key, label, value, total}]; each bar's track is
 * its total (registered) against the largest total, its fill the value (attended).
 * `describe(row)` gives the accessible text of a row.
 */
export class BarChart {
  constructor(container) {
    this.container = container;
    this.rows = new Map(); // key -> {li, name, svg, track, fill, numbers}
    this.list = document.createElement("ul");
    this.list.className = "bar-list";
    container.replaceChildren(this.list);
  }

  update(rows, describe) {
    const biggest = Math.max(1, ...rows.map((r) => r.total));
    const seen = new Set();
    rows.forEach((row, index) => {
      seen.add(row.key);
      let item = this.rows.get(row.key);
      if (!item) item = this._add(row.key);
      if (this.list.children[index] !== item.li) this.list.insertBefore(item.li, this.list.children[index] || null);
      if (item.name.textContent !== row.label) item.name.textContent = row.label;
      const numbers = `${row.value} / ${row.total}`;
      if (item.numbers.textContent !== numbers) item.numbers.textContent = numbers;
      item.track.setAttribute("width", ((row.total / biggest) * 100).toFixed(2));
      item.fill.setAttribute("width", ((Math.min(row.value, row.total || row.value) / biggest) * 100).toFixed(2));
      item.svg.setAttribute("aria-label", describe(row));
    });
    for (const [key, item] of this.rows) {
      if (!seen.has(key)) {
        item.li.remove();
        this.rows.delete(key);
      }
    }
  }

  _add(key) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "bar-name";
    const numbers = document.createElement("span");
    numbers.className = "bar-numbers";
    const svg = svgNode("svg", {
      class: "bar",
      viewBox: "0 0 100 10",
      preserveAspectRatio: "none",
      role: "img",
    });
    const track = svgNode("rect", { class: "bar-track", x: 0, y: 0, height: 10, width: 0 });
    const fill = svgNode("rect", { class: "bar-fill", x: 0, y: 0, height: 10, width: 0 });
    svg.append(track, fill);
    li.append(name, numbers, svg);
    const item = { li, name, svg, track, fill, numbers };
    this.rows.set(key, item);
    return item;
  }
}

/** Cumulative steps ("M x y H x V y …") of sorted times, scaled into the chart box. */
function stepPath(times, x, y, last) {
  let d = `M${x(times.length ? Math.min(times[0], last) : last).toFixed(1)} ${y(0).toFixed(1)}`;
  times.forEach((at, i) => {
    d += ` H${x(at).toFixed(1)} V${y(i + 1).toFixed(1)}`;
  });
  d += ` H${x(last).toFixed(1)}`;
  return d;
}

/**
 * The arrivals chart: how many trainees had arrived (room, online) at each moment from
 * the session's start (or the first arrival, if earlier) to now or its end.
 * `data`: {start, end, server_time, arrivals: [{at, how}]} (epoch seconds).
 */
export function drawArrivals(container, data, labels) {
  const width = 600;
  const height = 220;
  const pad = { left: 8, right: 8, top: 10, bottom: 10 };
  const room = data.arrivals.filter((a) => a.how === "room").map((a) => a.at);
  const online = data.arrivals.filter((a) => a.how === "online").map((a) => a.at);
  const first = data.arrivals.length ? data.arrivals[0].at : data.start;
  const from = Math.min(data.start, first);
  const to = Math.max(from + 60, Math.min(data.end, data.server_time));
  const most = Math.max(1, room.length, online.length);
  const x = (at) => pad.left + ((Math.min(Math.max(at, from), to) - from) / (to - from)) * (width - pad.left - pad.right);
  const y = (n) => height - pad.bottom - (n / most) * (height - pad.top - pad.bottom);
  const svg = svgNode("svg", {
    class: "arrivals",
    viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: "none",
    role: "img",
    "aria-label": labels.summary,
  });
  for (const n of [0.25, 0.5, 0.75, 1]) {
    svg.append(
      svgNode("line", {
        class: "grid",
        x1: pad.left,
        x2: width - pad.right,
        y1: y(most * n).toFixed(1),
        y2: y(most * n).toFixed(1),
        "vector-effect": "non-scaling-stroke",
      })
    );
  }
  svg.append(
    svgNode("path", { class: "series-room", d: stepPath(room, x, y, to), "vector-effect": "non-scaling-stroke" }),
    svgNode("path", { class: "series-online", d: stepPath(online, x, y, to), "vector-effect": "non-scaling-stroke" })
  );
  container.replaceChildren(svg);
  return { most };
}
