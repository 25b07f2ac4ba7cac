# syntax=docker/dockerfile:1
# Customer Care Registry: gunicorn with one gevent worker per container.
#   docker build -t ccr .
#   docker build --build-arg WITH_DB2=1 -t ccr-db2 .   (IBM Db2: adds ibm-db-sa, threading mode)

# -- front-end assets (Bootstrap, socket.io-client) into static/vendor ----------------------
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts/build-assets.mjs scripts/
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error && npm run --silent build

# -- runtime ---------------------------------------------------------------------------------
FROM python:3.11-slim AS runtime

# Any non-empty WITH_DB2 installs requirements-db2.txt and switches to threading mode
# (ibm_db blocks green threads); otherwise the gevent worker and async mode are used.
ARG WITH_DB2=""
ENV CCR_ASYNC_MODE=${WITH_DB2:+threading}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CCR_ENV=production \
    CCR_ASYNC_MODE=${CCR_ASYNC_MODE:-gevent} \
    CCR_INSTANCE_PATH=/app/instance \
    FLASK_APP=app.py \
    PORT=8000

WORKDIR /app
RUN groupadd --system --gid 10001 ccr \
    && useradd --system --uid 10001 --gid ccr --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin ccr

COPY requirements.txt requirements-db2.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
    && if [ -n "$WITH_DB2" ]; then pip install --no-cache-dir -r requirements-db2.txt; fi

# Code is owned by root and read-only for the app user; only instance/ is writable.
COPY . .
COPY --from=assets /src/static/vendor ./static/vendor
RUN mkdir -p /app/instance && chown ccr:ccr /app/instance

USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "app:app"]
