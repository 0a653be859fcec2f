from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="api-token"),
    path("me/", views.MeView.as_view(), name="api-me"),
    path("tokens/", views.ApiTokenListView.as_view(), name="api-tokens"),
    path("tokens/<int:token_id>/", views.ApiTokenDetailView.as_view(), name="api-token-detail"),
    path("orgs/", views.OrganizationListView.as_view(), name="api-orgs"),
    path("orgs/<slug:slug>/", views.OrganizationDetailView.as_view(), name="api-org"),
    path("orgs/<slug:slug>/teams/", views.TeamListView.as_view(), name="api-teams"),
    path("orgs/<slug:slug>/members/", views.MemberListView.as_view(), name="api-members"),
    path(
        "orgs/<slug:slug>/members/<int:user_id>/",
        views.MemberDetailView.as_view(),
        name="api-member",
    ),
    path(
        "orgs/<slug:slug>/invitations/",
        views.InvitationListView.as_view(),
        name="api-invitations",
    ),
    path(
        "orgs/<slug:slug>/invitations/<int:invitation_id>/",
        views.InvitationDetailView.as_view(),
        name="api-invitation",
    ),
    path("invitations/accept/", views.AcceptInvitationView.as_view(), name="api-invitation-accept"),
]
