# The services' images, one build target each, built from the workspace root:
#   docker build --target portal    -t portal .
#   docker build --target hardware  -t hardware .
#   docker build --target paintshop -t paintshop .
# One build stage compiles all three services: they share most of their dependencies, so the
# three cost little more than one, and the second and third image reuse the cached stage.
# Each image is distroless (no shell, no package manager) and runs as a non-root user.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p portal -p hardware -p paintshop \
    && cp target/release/portal target/release/hardware target/release/paintshop / \
    && mkdir /data

# Inside a container a service must listen on all interfaces of its own network namespace
# (the *_BIND / *_HOST variables below); what reaches it is decided by the security groups
# dashctl creates, not by that address.
FROM gcr.io/distroless/cc-debian12:nonroot AS service
USER nonroot

# For the services with a database: the SQLite file lives in /data, writable by the non-root
# user (uid 65532 in distroless). No DATABASE_URL here: an explicit URL would win over the PG*
# variables a deployment sets for a shared PostgreSQL. Without either, the default
# sqlite://<service>.db is relative to this directory.
FROM service AS service-with-data
COPY --from=build --chown=65532:65532 /data /data
WORKDIR /data
VOLUME ["/data"]

FROM service AS portal
COPY --from=build /portal /usr/local/bin/portal
ENV PORTAL_BIND=0.0.0.0:5000
EXPOSE 5000
ENTRYPOINT ["/usr/local/bin/portal"]

FROM service-with-data AS hardware
COPY --from=build /hardware /usr/local/bin/hardware
ENV HARDWARE_BIND=0.0.0.0:5001
EXPOSE 5001
ENTRYPOINT ["/usr/local/bin/hardware"]

FROM service-with-data AS paintshop
COPY --from=build /paintshop /usr/local/bin/paintshop
ENV PAINTSHOP_HOST=0.0.0.0
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/paintshop"]
