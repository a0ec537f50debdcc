# pdf-appliance image. Stages:
#   build     – full dependencies, `tsc` → packages/replay/dist/, dist/ (appliance + fixtures)
#   deps      – production dependencies only, cached on the lockfile and package.json files alone
#   fixtures  – the fixture main app and the Fly-proxy emulator, for compose.yaml (local only)
#   appliance – the shipped image (default target): Chromium's headless shell, fonts, tini,
#               Ghostscript, dist/src, the replay package, prod deps
# No `# syntax=` line and no RUN --mount: the classic builder must be able to build this
# without pulling a frontend image.

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# The workspace package (pdf-appliance-replay) needs only its package.json for `npm ci` to link
# it, so its sources come later and editing them keeps the install layer. --ignore-scripts: its
# `prepare` (a build) would run before those sources are here; `npm run build` builds it below,
# and no dependency has an install script.
COPY package.json package-lock.json ./
COPY packages/replay/package.json packages/replay/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY packages/replay/tsconfig.json packages/replay/
COPY packages/replay/src/ packages/replay/src/
COPY src/ src/
COPY fixtures/ fixtures/
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# node_modules/pdf-appliance-replay is a link to packages/replay; the stages below copy the
# built package there. No scripts, as in build: TypeScript is a dev dependency.
COPY package.json package-lock.json ./
COPY packages/replay/package.json packages/replay/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# Not shipped: lets `docker compose up --build` build the main app and the proxy from the same
# sources as the appliance, so the local stack cannot drift from the code under test.
FROM ${NODE_IMAGE} AS fixtures
WORKDIR /app
ENV NODE_ENV=production
# The fixtures run on Express, a development dependency (the appliance itself needs none).
COPY --from=build /app/node_modules node_modules/
COPY --from=build /app/package.json ./
COPY --from=build /app/packages/replay/package.json packages/replay/
COPY --from=build /app/packages/replay/dist/ packages/replay/dist/
COPY --from=build /app/dist/ dist/
COPY fixtures/fly-proxy/compose.json fixtures/fly-proxy/
CMD ["node", "dist/fixtures/main-app/cli.js"]

FROM ${NODE_IMAGE} AS appliance
# One layer so that apt lists never end up in the image. Each package is there for a reason
# (each one is here for a reason):
#   chromium-headless-shell the renderer: Debian's Chromium without its browser UI (faster and
#                           lighter per render, see src/browser/chromium.ts); puppeteer-core
#                           brings no browser
#   ghostscript             PDF/A output (PDF_STANDARD, pdf-standard), run as a separate program
#   tini                    PID 1: forwards SIGTERM/SIGINT to node and reaps Chromium's zombies,
#                           which node (not an init) would leave behind
#   fonts-liberation        Arial/Times/Courier metric-compatible Latin faces pages ask for
#   fonts-dejavu-core       fallback with full Latin Extended (Polish, Czech, …), Greek, Cyrillic
#   fonts-noto-color-emoji  emoji as glyphs instead of boxes
#   fonts-noto-cjk          Chinese, Japanese, Korean (the biggest of the fonts by far)
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      chromium-headless-shell \
      ghostscript \
      tini \
      fonts-liberation \
      fonts-dejavu-core \
      fonts-noto-color-emoji \
      fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log

WORKDIR /app
ENV NODE_ENV=production \
    CHROME_PATH=/usr/lib/chromium/chromium-headless-shell \
    PORT=3000 \
    METRICS_PORT=9091
COPY --from=deps /app/node_modules node_modules/
# main.js reads the version from ../../package.json.
COPY --from=build /app/package.json ./
COPY --from=build /app/packages/replay/package.json packages/replay/
COPY --from=build /app/packages/replay/dist/ packages/replay/dist/
COPY --from=build /app/dist/src/ dist/src/

# Chromium refuses its sandbox as root; as `node` the appliance's CHROME_SANDBOX=auto uses the
# sandbox where the kernel allows it (Fly Machines) and falls back to --no-sandbox with a
# warning where it cannot (docker's default seccomp profile); /healthz shows which.
USER node
EXPOSE 3000 9091

# No curl in slim images: node's fetch does it. /healthz never touches the idle clock, so these
# checks do not keep an idle appliance alive. Exit 1 on any failure, as docker expects.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/main.js"]
