from django.urls import path

from boards.customers import api

urlpatterns = [
    path("orgs/<slug:slug>/customers/", api.OrgCustomersView.as_view(), name="api-org-customers"),
    # path: a customer's name may hold a slash ("A/B Testing Ltd").
    path(
        "orgs/<slug:slug>/customers/<path:name>/cards/",
        api.CustomerCardsView.as_view(),
        name="api-customer-cards",
    ),
]
