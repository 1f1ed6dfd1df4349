# The utrs service image: the API (`python -m service.api`) and the worker
# (`python -m service.worker`) run from it. Build context: the repository root.
# BASE_IMAGE is any Debian-bookworm image with python3 + venv; where no registry can be
# reached, scripts/stack.sh passes the local base made for the sandbox image.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /opt/utrs
# build-ca.crt (optional; the glob lets it be absent): the build host's CA bundle, for
# networks whose HTTPS goes through an intercepting proxy. scripts/stack.sh puts it there.
COPY docker/requirements.txt docker/build-ca.cr[t] /opt/utrs/docker/
RUN python3 -m venv /opt/venv \
    && if [ -s docker/build-ca.crt ]; then export PIP_CERT=/opt/utrs/docker/build-ca.crt; fi \
    && /opt/venv/bin/pip install -r docker/requirements.txt \
    && rm -f docker/build-ca.crt

COPY client /opt/utrs/client
COPY service /opt/utrs/service
RUN /opt/venv/bin/python -m compileall -q /opt/utrs

ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONPATH=/opt/utrs LANG=C.UTF-8
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --retries=5 \
    CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["python", "-m", "service.api"]
