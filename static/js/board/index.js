/* The board page (templates/boards/board.html's entry module; drag.js is the other, for those
 * who may write): keys, quick-add, lanes and policies, the card dialog, the filters, and live
 * updates. Native ES modules, no build step; every write goes through the REST API with the
 * session's CSRF token (lib/api.js), and the server stays the judge of every move (moves.js). */

import { enableArchive } from "./archive.js";
import { boardEl } from "./context.js";
import { enableDialog, openCard } from "./dialog.js";
import { enableFilters } from "./filters.js";
import { enableKeys, isGrabbing } from "./keys.js";
import { enablePolicies, openQuickAdd, restoreLanes, toggleLane } from "./lanes.js";
import { startLive } from "./live.js";
import { justDragged } from "./moves.js";
import { openOnCards } from "./opening.js";

if (boardEl) {
  // Clicks: open a card, quick-add, fold a lane.
  boardEl.addEventListener("click", (event) => {
    const add = event.target.closest(".quick-add-open");
    if (add) return openQuickAdd(add.closest(".cell"));
    const toggle = event.target.closest(".lane-toggle");
    if (toggle) return toggleLane(toggle.closest(".lane"));
    const card = event.target.closest(".card");
    if (card && !justDragged() && !isGrabbing()) openCard(card.dataset.cardId);
  });
  enableKeys();
  enablePolicies();
  enableFilters();
  enableDialog();
  enableArchive();
  restoreLanes();
  const deepLink = window.location.hash.match(/^#card-(\d+)$/);
  if (deepLink) openCard(deepLink[1]);
  else openOnCards();
  startLive();
}
