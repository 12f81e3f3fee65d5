# syntax=docker/dockerfile:1
#
# Math API image: `docker build -t mathapi .`, then see docker-compose.yml.
#
# Stages: deps-dev (every dependency, to compile) → build (tsc, plus the web UI when the build script
# includes it) ; deps-prod (production dependencies only) → runtime (dist/ + production node_modules,
# non-root). Both dependency stages copy only package.json and the lockfile, so a source change reuses
# their cached layers.
#
# Why `npm install` and not `npm ci`: the lockfile was produced against a registry that lacks some of
# Biome's optional per-platform binaries (darwin, win32, musl), so `npm ci` refuses it as "out of sync".
# With the lockfile present `npm install` still installs exactly the locked versions. The step uses
# `npm ci` by itself as soon as the lockfile is complete (checked with `npm ci --dry-run`).
#
# Why `--ignore-scripts`: it keeps the root `prepare` script (which runs the build) from running before
# the sources are copied. No production dependency has an install script (better-sqlite3 ships
# prebuilt N-API binaries; @node-rs/argon2 comes as a per-platform optional package), so nothing is
# lost; only dev tools (esbuild's optional post-install check) are skipped.

ARG NODE_IMAGE=node:24-slim

# --- every dependency, to compile --------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps-dev
WORKDIR /app
# GMP engine (native/gmp): a C toolchain, Python for node-gyp, and GMP's headers, to build the addon.
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make python3 libgmp-dev \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# The optional local package @mathapi/gmp (file:native/gmp): npm links it from here.
COPY native/gmp/package.json native/gmp/
RUN --mount=type=cache,target=/root/.npm \
    if npm ci --dry-run --ignore-scripts --no-audit --no-fund >/dev/null 2>&1; then \
      npm ci --ignore-scripts --no-audit --no-fund; \
    else \
      echo "lockfile incomplete for npm ci (missing optional platform packages); using npm install"; \
      npm install --ignore-scripts --no-audit --no-fund; \
    fi

# --- compile -----------------------------------------------------------------------------------------
FROM deps-dev AS build
COPY . .
RUN npm run build
# `--ignore-scripts` above skipped the addon's build: build it now, and fail here if it does not load.
RUN npm rebuild @mathapi/gmp --foreground-scripts \
 && node -e "console.log('GMP engine: GMP ' + require('@mathapi/gmp').version)"

# --- production dependencies only --------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps-prod
WORKDIR /app
COPY package.json package-lock.json ./
COPY native/gmp/package.json native/gmp/
RUN --mount=type=cache,target=/root/.npm \
    if npm ci --dry-run --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null 2>&1; then \
      npm ci --omit=dev --ignore-scripts --no-audit --no-fund; \
    else \
      echo "lockfile incomplete for npm ci (missing optional platform packages); using npm install"; \
      npm install --omit=dev --ignore-scripts --no-audit --no-fund; \
    fi

# --- runtime -----------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
# GMP's runtime library, for the GMP engine's addon.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgmp10 \
 && rm -rf /var/lib/apt/lists/*
# Only variables from the README configuration table. DATA_DIR holds uploads (and, for a lone instance
# without JWT_SECRET, the generated secret); mount a volume there, shared by every replica.
ENV PORT=8000 \
    HOST=0.0.0.0 \
    DATA_DIR=/data
# Code and dependencies stay owned by root (read-only for the service); only /data is writable.
COPY --from=deps-prod /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
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
# node:*-slim has no curl, so the check uses Node's own fetch.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health/live',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# Node runs as PID 1 on purpose: src/server.ts installs SIGTERM/SIGINT handlers (close-with-grace), so
# the kernel's "PID 1 ignores default-action signals" rule does not bite, and the service spawns no
# child processes (the math pool uses worker threads), so there are no zombies for an init to reap.
# `npm start` is avoided because npm does not forward signals reliably. Give the container a stop
# timeout longer than SHUTDOWN_TIMEOUT_MS (compose: stop_grace_period) so in-flight requests finish.
STOPSIGNAL SIGTERM
CMD ["node", "dist/server.js"]
