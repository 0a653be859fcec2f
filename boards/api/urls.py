from django.urls import path

from boards.api import forecast_views, org_views, views, waits

urlpatterns = [
    path("boards/", views.BoardListView.as_view(), name="api-boards"),
    path("boards/<int:board_id>/", views.BoardDetailView.as_view(), name="api-board"),
    path("boards/<int:board_id>/columns/", views.ColumnCreateView.as_view(), name="api-columns"),
    path(
        "boards/<int:board_id>/swimlanes/", views.SwimlaneCreateView.as_view(), name="api-swimlanes"
    ),
    path("boards/<int:board_id>/labels/", views.LabelListView.as_view(), name="api-labels"),
    path("boards/<int:board_id>/cards/", views.CardCreateView.as_view(), name="api-board-cards"),
    path("boards/<int:board_id>/events/", views.BoardEventsView.as_view(), name="api-events"),
    path("boards/<int:board_id>/metrics/", views.BoardMetricsView.as_view(), name="api-metrics"),
    path("boards/<int:board_id>/alerts/", views.BoardAlertsView.as_view(), name="api-alerts"),
    path(
        "boards/<int:board_id>/forecast/",
        forecast_views.BoardForecastView.as_view(),
        name="api-forecast",
    ),
    path(
        "boards/<int:board_id>/forecast/backtest/",
        forecast_views.BoardBacktestView.as_view(),
        name="api-forecast-backtest",
    ),
    path(
        "boards/<int:board_id>/service-levels/",
        forecast_views.BoardServiceLevelsView.as_view(),
        name="api-service-levels",
    ),
    path(
        "boards/<int:board_id>/service-levels/<str:class_of_service>/",
        forecast_views.BoardServiceLevelView.as_view(),
        name="api-service-level",
    ),
    path(
        "boards/<int:board_id>/blockers/",
        forecast_views.BoardBlockersView.as_view(),
        name="api-blockers",
    ),
    path("columns/<int:column_id>/", views.ColumnDetailView.as_view(), name="api-column"),
    path("swimlanes/<int:swimlane_id>/", views.SwimlaneDetailView.as_view(), name="api-swimlane"),
    path("cards/", views.CardListView.as_view(), name="api-cards"),
    path("cards/<int:card_id>/", views.CardDetailView.as_view(), name="api-card"),
    path("cards/<int:card_id>/move/", views.CardMoveView.as_view(), name="api-card-move"),
    path("cards/<int:card_id>/block/", views.CardBlockView.as_view(), name="api-card-block"),
    path("cards/<int:card_id>/unblock/", views.CardUnblockView.as_view(), name="api-card-unblock"),
    path(
        "cards/<int:card_id>/comments/", views.CardCommentsView.as_view(), name="api-card-comments"
    ),
    path("cards/<int:card_id>/history/", views.CardHistoryView.as_view(), name="api-card-history"),
    path("cards/<int:card_id>/waits/", waits.CardWaitsView.as_view(), name="api-card-waits"),
    path(
        "cards/<int:card_id>/waits/<int:wait_id>/",
        waits.CardWaitView.as_view(),
        name="api-card-wait",
    ),
    # The organisation in one view: overview, activity, exports, import (boards/api/org_views.py)
    path(
        "orgs/<slug:slug>/overview/", org_views.OrgOverviewView.as_view(), name="api-org-overview"
    ),
    path(
        "orgs/<slug:slug>/activity/", org_views.OrgActivityView.as_view(), name="api-org-activity"
    ),
    path(
        "orgs/<slug:slug>/import/trello/",
        org_views.TrelloImportView.as_view(),
        name="api-org-import-trello",
    ),
    path("orgs/<slug:slug>/imports/", org_views.OrgImportsView.as_view(), name="api-org-imports"),
    path("imports/<int:job_id>/", org_views.ImportJobView.as_view(), name="api-import"),
    path(
        "boards/<int:board_id>/activity/",
        org_views.BoardActivityView.as_view(),
        name="api-board-activity",
    ),
    path(
        "boards/<int:board_id>/export/cards.csv",
        org_views.BoardCardsCsvView.as_view(),
        name="api-board-export-cards",
    ),
    path(
        "boards/<int:board_id>/export/history.csv",
        org_views.BoardHistoryCsvView.as_view(),
        name="api-board-export-history",
    ),
]
