# Wellhead's release binary on a slim Debian image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin wellhead

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/wellhead /usr/local/bin/wellhead
WORKDIR /var/lib/wellhead
ENTRYPOINT ["wellhead"]
CMD ["run", "--config", "/etc/wellhead/wellhead.toml"]
