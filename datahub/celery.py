import os

from celery import Celery
from celery.signals import worker_init

from connectors.collection.memory import share_malloc_arena

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datahub.settings")

app = Celery("datahub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _share_malloc_arena(**kwargs) -> None:
    """A worker's run threads share one malloc arena: its memory stays flat over long runs.
    Set in the main process as the worker starts; prefork children inherit it."""
    share_malloc_arena()
