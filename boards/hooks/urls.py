from django.urls import path

from boards.hooks import api

urlpatterns = [
    path("orgs/<slug:slug>/webhooks/", api.OrgWebhooksView.as_view(), name="api-org-webhooks"),
    path("webhooks/<int:webhook_id>/", api.WebhookDetailView.as_view(), name="api-webhook"),
    path(
        "webhooks/<int:webhook_id>/rotate-secret/",
        api.WebhookRotateView.as_view(),
        name="api-webhook-rotate",
    ),
    path(
        "webhooks/<int:webhook_id>/deliveries/",
        api.WebhookDeliveriesView.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver/",
        api.DeliveryRedeliverView.as_view(),
        name="api-webhook-redeliver",
    ),
]
