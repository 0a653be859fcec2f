"""Every write to boards, columns, swimlanes, cards, labels and comments.

Each service owns its transaction, checks the actor's right to write, takes its row locks in
the one global order (columns by id, then the card, then the board row through the event log),
writes the history and the board's event in the same transaction, and leaves publishing to
boards.live.events (after commit). The REST API, the demo loader, the admin and the tests all
call these functions; nothing else writes these models.

    access    who may write            rules    locks, positions, checks, after a change
    boards    boards, columns, lanes   cards    cards, blocks, comments
    moves     the move (hot path)      batches  many cards or comments at once (imports)
    service_levels  a class of service's SLE and WIP limit
    trello    the Trello import, run as a job
    waits     a card waiting on another card (of any team): blocks it until that one is done
"""

from boards.services.access import ensure_can_write, ensure_manager
from boards.services.batches import NewCard, NewComment, add_comments, create_cards
from boards.services.boards import (
    BOARD_TEMPLATES,
    DEFAULT_COLUMNS,
    create_board,
    create_board_from_template,
    create_column,
    create_label,
    create_swimlane,
    delete_board,
    delete_column,
    delete_label,
    delete_swimlane,
    update_board,
    update_column,
    update_label,
    update_swimlane,
)
from boards.services.cards import (
    add_comment,
    archive_card,
    block_card,
    create_card,
    delete_card,
    release_done_cards,
    restore_card,
    unblock_card,
    update_card,
)
from boards.services.moves import move_card
from boards.services.service_levels import set_service_level
from boards.services.waits import add_wait, end_wait, end_waits_on_finished

__all__ = [
    "BOARD_TEMPLATES",
    "DEFAULT_COLUMNS",
    "NewCard",
    "NewComment",
    "add_comment",
    "add_comments",
    "add_wait",
    "archive_card",
    "block_card",
    "create_board",
    "create_board_from_template",
    "create_card",
    "create_cards",
    "create_column",
    "create_label",
    "create_swimlane",
    "delete_board",
    "delete_card",
    "delete_column",
    "delete_label",
    "delete_swimlane",
    "end_wait",
    "end_waits_on_finished",
    "ensure_can_write",
    "ensure_manager",
    "move_card",
    "release_done_cards",
    "restore_card",
    "set_service_level",
    "unblock_card",
    "update_board",
    "update_card",
    "update_column",
    "update_label",
    "update_swimlane",
]
