from django.urls import path

from boards import views

urlpatterns = [
    path("", views.home, name="home"),
    path("boards/<int:board_id>/", views.board_page, name="board"),
    path("boards/<int:board_id>/metrics/", views.metrics_page, name="board-metrics"),
    path(
        "boards/<int:board_id>/cards/<int:card_id>/fragment/",
        views.card_fragment,
        name="card-fragment",
    ),
]
