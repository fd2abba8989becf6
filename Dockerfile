# The browser libraries of package.json, from the npm registry.
FROM node:22-slim AS js
WORKDIR /js
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DATAHUB_VAR_DIR=/data
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
COPY --from=js /js/node_modules node_modules
RUN DATAHUB_VAR_DIR=/tmp/build python manage.py collectstatic --noinput \
    && mkdir -p /data && useradd --system --home /app datahub && chown datahub /data
USER datahub
EXPOSE 8000
CMD ["gunicorn", "datahub.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
