# chargebox in a container: `docker build -t chargebox .`, then `docker run --rm chargebox <command> ...`.
# Slim, non-root, `chargebox` as the entrypoint; the fast extra (uvloop) is installed. docs/howto/docker.md.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --root-user-action=ignore --prefix=/install '.[fast]'

FROM python:3.11-slim
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/chargebox chargebox
USER chargebox
WORKDIR /var/lib/chargebox
# the central system's OCPP port and control page, a fleet's control API
EXPOSE 9000 9001 9002
ENTRYPOINT ["chargebox"]
CMD ["--help"]
