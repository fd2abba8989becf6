from django.urls import path

from connectors.collection import views as views_runs
from connectors.dataapi import views as views_dataapi
from connectors.explore import views_charts, views_organizations, views_tables
from connectors.setup import views, views_settings

app_name = "connectors"

urlpatterns = [
    path("", views.home, name="home"),
    path("settings/", views_settings.preferences, name="preferences"),
    path("settings/api-keys/", views_dataapi.api_keys, name="api-keys"),
    path("settings/api-keys/<int:pk>/revoke/", views_dataapi.api_key_revoke, name="api-key-revoke"),
    path("settings/data-api/", views_dataapi.data_api, name="data-api"),
    path("overview/", views_organizations.overview_all, name="overview-all"),
    path("connectors/", views.connector_list, name="connector-list"),
    path("connectors/add/", views.connector_catalogue, name="connector-catalogue"),
    path("connectors/add/<slug:kind>/", views.connector_add, name="connector-add"),
    path("connectors/<int:pk>/", views.connector_detail, name="connector-detail"),
    path("connectors/<int:pk>/edit/", views.connector_edit, name="connector-edit"),
    path("connectors/<int:pk>/delete/", views.connector_delete, name="connector-delete"),
    path("connectors/<int:pk>/test/", views.connector_test, name="connector-test"),
    path("connectors/<int:connector_pk>/tasks/add/", views.task_add, name="task-add"),
    path("connectors/<int:connector_pk>/estimate/", views.task_estimate, name="task-estimate"),
    path("tasks/<int:pk>/", views.task_detail, name="task-detail"),
    path("tasks/<int:pk>/edit/", views.task_edit, name="task-edit"),
    path("tasks/<int:pk>/delete/", views.task_delete, name="task-delete"),
    path("connectors/<int:pk>/run/", views.connector_run_all, name="connector-run-all"),
    path("tasks/<int:pk>/run/", views.task_run, name="task-run"),
    path("runs/<int:pk>/cancel/", views_runs.run_cancel, name="run-cancel"),
    path("tasks/", views_runs.task_list, name="task-list"),
    path("tasks/<int:pk>/runs/", views_runs.task_runs, name="task-runs"),
    path("runs/<int:pk>/", views_runs.run_detail, name="run-detail"),
    path("runs/<int:pk>/progress/", views_runs.run_progress, name="run-progress"),
    path("connectors/<int:pk>/tables/", views_tables.table_list, name="table-list"),
    path(
        "connectors/<int:pk>/tables/<str:table>/",
        views_tables.table_detail,
        name="table-detail",
    ),
    path(
        "connectors/<int:pk>/tables/<str:table>/export.csv",
        views_tables.table_export,
        name="table-export",
    ),
    path(
        "connectors/<int:pk>/tables/<str:table>/focus.csv",
        views_tables.table_focus_export,
        name="table-focus-export",
    ),
    path("tasks/<int:pk>/parameters.json", views.task_parameters, name="task-parameters"),
    path(
        "connectors/<int:pk>/overview/",
        views_charts.connector_overview,
        name="connector-overview",
    ),
    path(
        "connectors/<int:pk>/tables/<str:table>/charts/",
        views_charts.table_charts,
        name="table-charts",
    ),
]
