from django.urls import path

from boards.customers import pages as customer_pages
from boards.hooks import pages as hook_pages
from boards.kaizen import pages as kaizen_pages
from boards.pages import forecast, setup, views

urlpatterns = [
    path("", views.home, name="home"),
    path("boards/<int:board_id>/", views.board_page, name="board"),
    path("boards/<int:board_id>/metrics/", views.metrics_page, name="board-metrics"),
    path("boards/<int:board_id>/forecast/", forecast.forecast_page, name="board-forecast"),
    path("boards/<int:board_id>/standup/", views.standup_page, name="board-standup"),
    path("boards/<int:board_id>/activity/", views.board_activity_page, name="board-activity"),
    path("boards/<int:board_id>/settings/", setup.board_settings_page, name="board-settings"),
    path("o/<slug:slug>/boards/new/", setup.new_board_page, name="org-new-board"),
    path("o/<slug:slug>/people/", setup.people_page, name="org-people"),
    path("o/<slug:slug>/", views.org_overview_page, name="org-overview"),
    path("o/<slug:slug>/board/", views.org_board_page, name="org-board"),
    path("o/<slug:slug>/activity/", views.org_activity_page, name="org-activity"),
    path("o/<slug:slug>/search/", views.org_search_page, name="org-search"),
    path("o/<slug:slug>/import/", views.org_import_page, name="org-import"),
    path("o/<slug:slug>/webhooks/", hook_pages.org_webhooks_page, name="org-webhooks"),
    path("o/<slug:slug>/customers/", customer_pages.customers_page, name="org-customers"),
    path(
        "o/<slug:slug>/customers/<path:name>/",
        customer_pages.customer_page,
        name="org-customer",
    ),
    path(
        "boards/<int:board_id>/improvements/",
        kaizen_pages.improvements_page,
        name="board-improvements",
    ),
    path(
        "boards/<int:board_id>/improvements/new/",
        kaizen_pages.create_action,
        name="board-improvement-create",
    ),
    path(
        "boards/<int:board_id>/improvements/<int:improvement_id>/start/",
        kaizen_pages.start_action,
        name="board-improvement-start",
    ),
    path(
        "boards/<int:board_id>/improvements/<int:improvement_id>/review/",
        kaizen_pages.review_action,
        name="board-improvement-review",
    ),
    path(
        "o/<slug:slug>/webhooks/<int:webhook_id>/toggle/",
        hook_pages.toggle_action,
        name="org-webhook-toggle",
    ),
    path(
        "o/<slug:slug>/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver/",
        hook_pages.redeliver_action,
        name="org-webhook-redeliver",
    ),
    path("o/<slug:slug>/imports/<int:job_id>/", views.org_import_job_page, name="org-import-job"),
    path(
        "boards/<int:board_id>/cards/<int:card_id>/fragment/",
        views.card_fragment,
        name="card-fragment",
    ),
]
