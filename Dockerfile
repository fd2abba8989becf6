FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DATAHUB_VAR_DIR=/data
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
RUN DATAHUB_VAR_DIR=/tmp/build python manage.py collectstatic --noinput \
    && mkdir -p /data && useradd --system --home /app datahub && chown datahub /data
USER datahub
EXPOSE 8000
CMD ["gunicorn", "datahub.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
