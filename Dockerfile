# syntax=docker/dockerfile:1
#
# Math API image: `docker build -t mathapi .` (or `podman build --format docker -t mathapi .`), then see
# docker-compose.yml. CI builds and runs it with Podman on a locally bootstrapped base image
# (.ci/image/check.sh, NODE_IMAGE=localhost/mathapi-base:…); README "Deployment" says what it checks.
#
# Stages:
#   toolchain  NODE_IMAGE + BUILD_PACKAGES (OS packages needed only to build: compilers, -dev headers)
#   deps-dev   every npm dependency, to compile
#   build      tsc and the web UI (npm run build)
#   deps-prod  production npm dependencies only
#   runtime    NODE_IMAGE + RUNTIME_PACKAGES (shared libraries the service loads) + dist/ + production
#              node_modules, running as the unprivileged user `node`
# The dependency stages copy only package.json, the lockfile and .npmrc, so a source change reuses their
# cached layers. The GMP engine (native/gmp, the optional local package @mathapi/gmp) is the one native
# addon built here: its toolchain and headers come through BUILD_PACKAGES, libgmp10 through
# RUNTIME_PACKAGES, and its built .node file is copied into the runtime stage.
#
# `npm ci` installs exactly the lockfile and fails when it is out of sync with package.json.
# `--ignore-scripts` keeps the root `prepare` script (which runs the build) from running before the sources
# are copied. No production dependency needs an install script: better-sqlite3 ships N-API prebuilds
# for glibc and musl, @node-rs/argon2 and @node-rs/crc32 come as per-platform optional packages.

ARG NODE_IMAGE=node:24-slim

# --- OS packages for building: a C toolchain, Python for node-gyp and GMP's headers (the GMP engine) --
FROM ${NODE_IMAGE} AS toolchain
ARG BUILD_PACKAGES="g++ make python3 libgmp-dev"
RUN if [ -n "$BUILD_PACKAGES" ]; then \
      apt-get update && apt-get install -y --no-install-recommends $BUILD_PACKAGES && \
      rm -rf /var/lib/apt/lists/*; \
    fi

# --- every dependency, to compile ----------------------------------------------------------------------
FROM toolchain AS deps-dev
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# The optional local package @mathapi/gmp (file:native/gmp): npm links it from here. Likewise the dev-only
# local package tools/openapi-codegen (openapi-typescript with its TypeScript 5).
COPY native/gmp/package.json native/gmp/
COPY tools/openapi-codegen/package.json tools/openapi-codegen/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund

# --- compile -------------------------------------------------------------------------------------------
FROM deps-dev AS build
COPY . .
RUN npm run build
# `--ignore-scripts` above skipped the addon's build: build it now, and fail here if it does not load.
RUN npm rebuild @mathapi/gmp --foreground-scripts \
 && node -e "console.log('GMP engine: GMP ' + require('@mathapi/gmp').version)"

# --- production dependencies only ----------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps-prod
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY native/gmp/package.json native/gmp/
COPY tools/openapi-codegen/package.json tools/openapi-codegen/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime -------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG RUNTIME_PACKAGES="libgmp10"
RUN if [ -n "$RUNTIME_PACKAGES" ]; then \
      apt-get update && apt-get install -y --no-install-recommends $RUNTIME_PACKAGES && \
      rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /app
# Only variables from the README configuration table. DATA_DIR holds the SQLite database (the embedded
# default, when DATABASE_URL is not given), uploads and, for a lone instance without JWT_SECRET, the
# generated secret: mount a volume there, shared by every replica.
ENV PORT=8000 \
    HOST=0.0.0.0 \
    DATA_DIR=/data \
    DATABASE_URL=sqlite:/data/app.db
# Code and dependencies stay owned by root (read-only for the service); only /data is writable.
COPY --from=deps-prod /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY scripts/check-node.mjs ./scripts/
# GMP engine: the built addon with its loader (node_modules/@mathapi/gmp links here). MATH_ENGINE=gmp
# makes a container without it refuse to start instead of running 3–5× slower.
COPY --from=build /app/native/gmp/package.json /app/native/gmp/index.cjs native/gmp/
COPY --from=build /app/native/gmp/build/Release/gmp.node native/gmp/build/Release/
ENV MATH_ENGINE=gmp
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8000

# Liveness only: the process answers. Readiness (/health/ready: database reachable) is what a load
# balancer or compose's depends_on should gate on; docker-compose.yml overrides this check with it.
# The -slim images have no curl, so the check uses Node's own fetch. (Podman keeps it with --format docker.)
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health/live',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# Node runs as PID 1 on purpose: src/server.ts installs SIGTERM/SIGINT handlers (close-with-grace), so
# the kernel's "PID 1 ignores default-action signals" rule does not bite, and the service spawns no
# child processes (the math pool uses worker threads), so there are no zombies for an init to reap.
# `npm start` is avoided because npm does not forward signals reliably; dist/start.js is what it runs
# (the Node.js version check, then the server). Give the container a stop timeout longer than
# SHUTDOWN_TIMEOUT_MS (compose: stop_grace_period) so in-flight requests finish; CI checks that they do.
STOPSIGNAL SIGTERM
CMD ["node", "dist/start.js"]
