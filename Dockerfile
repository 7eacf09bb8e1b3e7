# syncer links SQLite through cgo, so the image needs glibc: build on Debian,
# run on distroless/base (glibc, CA certificates, a nonroot user).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o /out/syncer .

FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/syncer /usr/local/bin/syncer
ENTRYPOINT ["/usr/local/bin/syncer"]
