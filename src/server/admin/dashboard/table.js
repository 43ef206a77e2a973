// The table of queues: one row per queue, sorted by the column whose header was clicked (again:
// the other way), filtered by a text typed in the filter box, at most MAX_ROWS rows drawn. Rows
// are kept by queue name and updated in place each second, so a button under the pointer stays
// the same element while its numbers change. Queue names are only ever set as text, never as
// markup.
import { drawSparkline } from "./charts.js";
import { formatBytes, formatCount, formatDuration, formatRate } from "./format.js";

/** More rows than this would make each update slow; the filter finds the others. */
const MAX_ROWS = 200;

/** The cells of a row after the name, in order: column key, how it is written. */
const COLUMNS = [
  ["items", (q) => formatCount(q.items)],
  ["bytes", (q) => formatBytes(q.bytes)],
  ["mem_items", (q) => formatCount(q.mem_items)],
  ["disk_items", (q) => formatCount(q.disk_items)],
  ["open_transactions", (q) => formatCount(q.open_transactions)],
  ["waiters", (q) => formatCount(q.waiters)],
  ["age", (q) => formatDuration(q.age)],
  ["in", (q) => formatRate(q.in)],
  ["out", (q) => formatRate(q.out)],
];

export class QueueTable {
  /**
   * `table` is the <table> (its header buttons carry data-sort), `filter` the text box;
   * `onSelect(name)` is called when a queue's name is clicked, `onAction(kind, name)` for its
   * flush and delete buttons.
   */
  constructor(table, filter, onSelect, onAction) {
    this.body = table.tBodies[0];
    this.headers = [...table.querySelectorAll("th[data-sort]")];
    this.filter = filter;
    this.rows = new Map();
    this.sort = { key: "items", descending: true };
    this.queues = [];
    this.history = null;
    this.selected = null;
    for (const header of this.headers) {
      header.querySelector("button").addEventListener("click", () => this.sortBy(header.dataset.sort));
    }
    filter.addEventListener("input", () => this.render());
    this.body.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      const row = event.target.closest("tr[data-queue]");
      if (row === null) return;
      if (button !== null) onAction(button.dataset.action, row.dataset.queue);
      else onSelect(row.dataset.queue);
    });
  }

  sortBy(key) {
    this.sort = { key, descending: this.sort.key === key ? !this.sort.descending : key !== "name" };
    this.render();
  }

  /**
   * Shows `queues` (objects with the columns' keys, `name`, `series`: the queue's history or null,
   * and `failure`: why its journal can't be written, or null); `history` is the history the series
   * belong to; `selected` is highlighted. Returns how many rows were drawn and how many matched
   * the filter.
   */
  update(queues, history, selected) {
    this.queues = queues;
    this.history = history;
    this.selected = selected;
    return this.render();
  }

  render() {
    const needle = this.filter.value.trim().toLowerCase();
    const matching = this.queues.filter((queue) => queue.name.toLowerCase().includes(needle));
    const { key, descending } = this.sort;
    const direction = descending ? -1 : 1;
    matching.sort((a, b) => direction * (key === "name" ? a.name.localeCompare(b.name) : a[key] - b[key]) || a.name.localeCompare(b.name));
    const shown = matching.slice(0, MAX_ROWS);
    const keep = new Set(shown.map((queue) => queue.name));
    for (const [name, row] of this.rows) {
      if (!keep.has(name)) {
        row.remove();
        this.rows.delete(name);
      }
    }
    let previous = null;
    for (const queue of shown) {
      const row = this.fill(this.rows.get(queue.name) ?? this.newRow(queue.name), queue);
      // Moved only when out of place: a row under the pointer is left where it is.
      const place = previous === null ? this.body.firstChild : previous.nextSibling;
      if (place !== row) this.body.insertBefore(row, place);
      previous = row;
    }
    for (const header of this.headers) {
      header.setAttribute("aria-sort", header.dataset.sort !== key ? "none" : descending ? "descending" : "ascending");
    }
    return { shown: shown.length, matching: matching.length };
  }

  newRow(name) {
    const row = document.createElement("tr");
    row.dataset.queue = name;
    const nameCell = row.insertCell();
    nameCell.className = "name";
    nameCell.textContent = name;
    for (const [key] of COLUMNS) row.insertCell().dataset.col = key;
    const spark = row.insertCell();
    spark.className = "spark";
    spark.append(document.createElementNS("http://www.w3.org/2000/svg", "svg"));
    const actions = row.insertCell();
    actions.className = "actions";
    for (const [action, label] of [["flush", "flush"], ["delete", "delete"]]) {
      const button = document.createElement("button");
      button.dataset.action = action;
      button.textContent = label;
      button.title = `${label} queue '${name}'`;
      actions.append(button);
    }
    this.rows.set(name, row);
    return row;
  }

  fill(row, queue) {
    row.classList.toggle("selected", queue.name === this.selected);
    row.classList.toggle("failing", queue.failure !== null);
    row.cells[0].title = queue.failure ?? "show this queue in the chart";
    COLUMNS.forEach(([, format], index) => {
      const text = format(queue);
      if (row.cells[index + 1].textContent !== text) row.cells[index + 1].textContent = text;
    });
    const spark = row.cells[COLUMNS.length + 1];
    spark.title = queue.series === null ? "no history: the server keeps it for the busiest and deepest queues only" : "";
    drawSparkline(spark.firstChild, this.history, queue.series);
    return row;
  }
}
