# The hookgate image: one static binary, subcommands manager and receiver
# (the chart passes them as the first argument). Not built by `make test`:
# the development machines have no container engine.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY ingress/ ingress/
COPY internal/ internal/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /hookgate ./cmd/hookgate

FROM gcr.io/distroless/static:nonroot
COPY --from=build /hookgate /usr/local/bin/hookgate
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/hookgate"]
