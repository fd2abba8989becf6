import logging
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datahub.settings")
application = get_wsgi_application()

from datahub.checks import SECRET_KEY_IS_PUBLIC, secret_key_is_public  # noqa: E402

if secret_key_is_public():  # said at every web server start (gunicorn, `make run`)
    logging.getLogger("datahub").error(SECRET_KEY_IS_PUBLIC)
