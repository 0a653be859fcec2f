from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("tokens/", views.tokens_page, name="tokens"),
    path("setup/", views.first_run_page, name="first-run"),
]

# Mounted at /invitations/ (kanban/urls.py): the link an invitation's key makes.
invitation_urlpatterns = [
    path("<str:key>/", views.invitation_page, name="invitation"),
]
