"""/v1/: the Data API (included by datahub/urls.py)."""

from django.urls import path

from connectors.dataapi import api

app_name = "dataapi"

urlpatterns = [
    path("resultDatabase/<str:table>/paged", api.paged, name="paged"),
    path("openapi.json", api.openapi_json, name="openapi"),
    path("focus/costs", api.focus_costs, name="focus-costs"),
]
