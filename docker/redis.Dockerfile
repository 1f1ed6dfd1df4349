# Redis for the utrs stack: Debian's redis-server with AOF persistence on.
# BASE_IMAGE: any Debian bookworm image (scripts/stack.sh passes the local base where no
# registry can be reached; apt still reaches deb.debian.org during the build).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown redis:redis /data
USER redis
WORKDIR /data
VOLUME /data
EXPOSE 6379
# appendfsync everysec: at most ~1 s of acknowledged writes can be lost on a host crash;
# a Redis restart (SIGTERM) loses nothing.
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data", \
     "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
