# Một Cửa production image: gunicorn (web), Celery worker and beat all run from this image;
# docker-compose.yml shows the whole stack. Build: docker build -t motcua .
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    MEDIA_ROOT=/app/var/media

# WeasyPrint's runtime libraries and fonts with Vietnamese glyphs (official documents use
# Times New Roman, which fontconfig resolves to Liberation Serif). Nothing is downloaded at run time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
        fonts-liberation2 fonts-dejavu-core fonts-noto-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 motcua \
    && useradd --system --uid 10001 --gid motcua --home-dir /app --no-create-home --shell /usr/sbin/nologin motcua

WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are part of the image (served by whitenoise from the manifest storage). The dummy
# values exist only inside this RUN: the settings refuse to start without them.
RUN SECRET_KEY=collectstatic-only-not-a-secret DEBUG=0 ALLOWED_HOSTS=localhost \
        python manage.py collectstatic --noinput \
    && mkdir -p /app/var/media \
    && chown -R motcua:motcua /app/var \
    && chmod 0755 /app/scripts/docker-entrypoint.sh

USER motcua
EXPOSE 8000

ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
CMD ["gunicorn", "motcua.wsgi"]
