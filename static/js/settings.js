// A board's settings: drag a column (or a swimlane) to its new place. The page works without
// this script (the ← → and ↑ ↓ buttons post the same move); with it, a drop submits the item's
// own move form with the new 0-based position, and the server answers with the page again.

const lists = document.querySelectorAll(".settings-page[data-can-write=true] [data-reorder]");

function makeSortable(list) {
  const items = () => [...list.children];
  let dragged = null;
  let marked = null;

  function mark(item, after) {
    if (marked && (marked.item !== item || marked.after !== after)) {
      marked.item.classList.remove("drop-before", "drop-after");
    }
    marked = item ? { item, after } : null;
    if (item) item.classList.add(after ? "drop-after" : "drop-before");
  }

  for (const item of items()) {
    if (!item.querySelector("form[data-move]")) continue;
    item.draggable = true;
    item.classList.add("is-draggable");
    item.addEventListener("dragstart", (event) => {
      dragged = item;
      item.classList.add("is-dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", item.dataset.position);
    });
    item.addEventListener("dragend", () => {
      item.classList.remove("is-dragging");
      mark(null);
      dragged = null;
    });
  }

  list.addEventListener("dragover", (event) => {
    if (!dragged) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    const over = event.target.closest("li");
    if (!over || over.parentNode !== list) return;
    const box = over.getBoundingClientRect();
    mark(over, event.clientY > box.top + box.height / 2);
  });

  list.addEventListener("drop", (event) => {
    if (!dragged || !marked) return;
    event.preventDefault();
    const from = items().indexOf(dragged);
    let to = items().indexOf(marked.item) + (marked.after ? 1 : 0);
    if (to > from) to -= 1; // the others close up behind the item taken out
    if (to === from) return;
    const form = dragged.querySelector("form[data-move]");
    form.elements.position.value = String(to);
    // After the drag has ended: a navigation started inside the drop is cancelled.
    setTimeout(() => form.requestSubmit(), 0);
  });
}

lists.forEach(makeSortable);
