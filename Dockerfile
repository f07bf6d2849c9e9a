# graphsvc as a container: the tree to watch is mounted at /src (read-only is fine), the graph
# lives on the /data volume. Build: docker build -t graphsvc .
# Run:   docker run -d -p 127.0.0.1:8765:8765 -e GRAPHSVC_TOKEN=$(openssl rand -hex 16) \
#            -v "$PWD":/src:ro -v graphsvc-data:/data graphsvc
# It binds 0.0.0.0 inside the container, so it refuses to start without GRAPHSVC_TOKEN: every
# endpoint but /health then needs "Authorization: Bearer <token>".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/graphsvc
COPY pyproject.toml README.md ./
COPY graphsvc ./graphsvc
COPY schema ./schema
COPY queries ./queries
RUN pip install . \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home graphsvc \
    && mkdir -p /data /src \
    && chown graphsvc:graphsvc /data

USER graphsvc
VOLUME ["/data"]
EXPOSE 8765

# The container's own loopback: /health answers as soon as the database is open.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8765/health', timeout=4)"]

# 0.0.0.0 inside the container so that a published port reaches it (hence the token); publish
# it on the host's loopback (-p 127.0.0.1:8765:8765) unless others should reach it.
ENTRYPOINT ["graphsvc", "serve", "/src", "--db", "/data/graph.duckdb", "--host", "0.0.0.0", "--port", "8765"]
CMD ["--log-format", "json"]
