from django.urls import path

from boards.kaizen import api

urlpatterns = [
    path(
        "boards/<int:board_id>/improvements/",
        api.BoardImprovementsView.as_view(),
        name="api-board-improvements",
    ),
    path(
        "boards/<int:board_id>/improvements/<int:improvement_id>/",
        api.ImprovementDetailView.as_view(),
        name="api-improvement",
    ),
    path(
        "boards/<int:board_id>/improvements/<int:improvement_id>/start/",
        api.ImprovementStartView.as_view(),
        name="api-improvement-start",
    ),
    path(
        "boards/<int:board_id>/improvements/<int:improvement_id>/review/",
        api.ImprovementReviewView.as_view(),
        name="api-improvement-review",
    ),
]
