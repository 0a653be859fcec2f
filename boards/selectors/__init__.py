"""Read paths. Each builds plain dicts from a fixed number of queries, whatever the number of
cards: the board snapshot is read on every page load and by every resyncing viewer.

    access    reads by id, scoped to the user's organisations; ids in request bodies
    cards     the API's dicts of cards, columns, lanes, labels and people
    snapshot  the whole board, its seq, the replay of its log
    search    card search and full-text search     history  moves, comments, alerts, cycle time
    imports   import jobs                            exports  the CSV exports, streamed
"""

from boards.selectors.access import (
    access_of,
    boards_for_user,
    get_board_for_user,
    get_card_for_user,
    get_column_for_user,
    get_swimlane_for_user,
    not_on_board,
    resolve_assignees,
    resolve_column,
    resolve_labels,
    resolve_swimlane,
    resolve_team,
)
from boards.selectors.cards import (
    CARD_FIELDS,
    CardData,
    ColumnData,
    LabelData,
    PersonData,
    SwimlaneData,
    age_days,
    board_summary,
    card_as_dict,
    card_dict,
    card_dict_of,
    cards_as_dicts,
    column_as_dict,
    column_dict,
    label_dict,
    relation_ids_sql,
    swimlane_dict,
    user_dict,
)
from boards.selectors.history import (
    TYPICAL_CYCLE_TIME_PERCENTILE,
    board_alerts,
    card_comments,
    card_moves,
    comment_dict,
    move_dict,
    typical_cycle_time_days,
)
from boards.selectors.imports import (
    get_import_job_for_user,
    import_job_dict,
    import_jobs_of_organization,
    may_create_boards,
    teams_for_new_board,
)
from boards.selectors.search import (
    card_search_vector,
    comment_search_vector,
    search_cards,
    text_search_fallback,
    text_search_postgres,
)
from boards.selectors.snapshot import (
    REPLAY_LIMIT,
    board_replay,
    board_seq,
    board_snapshot,
    board_snapshot_json,
)

__all__ = [
    "CARD_FIELDS",
    "REPLAY_LIMIT",
    "TYPICAL_CYCLE_TIME_PERCENTILE",
    "CardData",
    "ColumnData",
    "LabelData",
    "PersonData",
    "SwimlaneData",
    "access_of",
    "age_days",
    "board_alerts",
    "board_replay",
    "board_seq",
    "board_snapshot",
    "board_snapshot_json",
    "board_summary",
    "boards_for_user",
    "card_as_dict",
    "card_comments",
    "card_dict",
    "card_dict_of",
    "card_moves",
    "card_search_vector",
    "cards_as_dicts",
    "column_as_dict",
    "column_dict",
    "comment_dict",
    "comment_search_vector",
    "get_board_for_user",
    "get_card_for_user",
    "get_column_for_user",
    "get_import_job_for_user",
    "get_swimlane_for_user",
    "import_job_dict",
    "import_jobs_of_organization",
    "label_dict",
    "may_create_boards",
    "move_dict",
    "not_on_board",
    "relation_ids_sql",
    "resolve_assignees",
    "resolve_column",
    "resolve_labels",
    "resolve_swimlane",
    "resolve_team",
    "search_cards",
    "swimlane_dict",
    "teams_for_new_board",
    "text_search_fallback",
    "text_search_postgres",
    "typical_cycle_time_days",
    "user_dict",
]
